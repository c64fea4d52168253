import Logging

/// The server's log handler: StreamLogHandler's lines on standard error, but metadata is formatted only when a
/// line is written. StreamLogHandler formats its whole metadata every time a key is set, and Hummingbird sets
/// a request id on every request's logger: at the default level nothing is logged per request, yet that
/// formatting (and the id's hex text) cost 2–5% of the server's CPU per request.
struct ServerLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata = Logger.Metadata()

    init(label: String) {
        self.label = label
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var stream = StreamLogHandler.standardError(label: label)
        stream.logLevel = logLevel
        stream.metadata = metadata
        stream.log(event: event)
    }
}
