import Foundation
import ArgumentParser
import ParleyApp
import ParleyCore
import ParleyServer
import ParleySQLite
import ParleyStore
#if canImport(Glibc)
import Glibc
#endif

struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage agents' sign-in to the web inbox.",
        subcommands: [SetPassword.self])
}

struct SetPassword: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-password",
        abstract: "Set the password an agent (a dev user) signs in to /inbox with.",
        discussion: "The password is read from standard input (one line), or asked for when standard input is a terminal.")

    @Option(name: .customLong("db"), help: "SQLite database file.") var database = "./parley.sqlite"
    @Option(help: "A PostgreSQL database instead (or PARLEY_DATABASE_URL).") var databaseURL: String?
    @Option(help: "The agent's email address.") var email: String

    func run() async throws {
        let password: String
        if isatty(STDIN_FILENO) != 0, let typed = getpass("Password for \(email): ") {
            password = String(cString: typed)
        } else {
            password = readLine(strippingNewline: true) ?? ""
        }
        let hash: String
        do {
            hash = try PasswordHash.make(password)
        } catch let error as APIError {
            throw ValidationError("The password \(error.message).")
        }
        let url = Parley.databaseURL(databaseURL)
        try await StoreOpening.using(url.map { .postgres(url: $0) } ?? .sqlite(path: database)) { store in
            let app = ParleyApp(store: store, clock: SystemClock())
            guard let user = try await store.find(DevUser.self, key: "email", value: email.lowercased()).first else {
                throw ValidationError("No dev user has the email \(email); create one with dev-users.create first.")
            }
            guard user.state == .active else { throw ValidationError("\(email) is not an active user.") }
            try await app.setPasswordHash(hash, of: user.number, at: app.clock.now())
            print("Password set for \(user.displayName) (\(user.id.displayID)); sign in at /inbox.")
        }
    }
}
