import Hummingbird
import ParleyStore
import ServiceLifecycle

/// Closes the store's threads when the server shuts down.
struct StoreService: Service {
    let store: any ParleyStore

    func run() async throws {
        try? await gracefulShutdown()
        try await store.close()
    }
}
