import Foundation

/// A mailbox's `imap` URL, read: `imaps://USER:PASS@HOST:993/INBOX` (TLS from the start) or
/// `imap://USER:PASS@HOST:143/INBOX` (STARTTLS when the server offers it). The path names the folder to
/// poll (INBOX when empty); `?auth=xoauth2` signs in with SASL XOAUTH2, the password being the OAuth access
/// token; `?processed=FOLDER` moves each message taken in to FOLDER (created when missing) after flagging it
/// `\Seen`. User and password are percent-decoded; `description` leaves them out (it is what logs show).
public struct IMAPAccount: Sendable, Equatable, CustomStringConvertible {
    public enum Authentication: String, Sendable, Equatable { case login, xoauth2 }

    public var host: String
    public var port: Int
    public var implicitTLS: Bool
    public var user: String
    /// The password, or the access token with XOAUTH2.
    public var secret: String
    public var authentication: Authentication
    public var folder: String
    public var processedFolder: String?

    public init?(_ url: String) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              scheme == "imap" || scheme == "imaps", let host = components.host, !host.isEmpty else { return nil }
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        implicitTLS = scheme == "imaps"
        port = components.port ?? (implicitTLS ? 993 : 143)
        user = components.percentEncodedUser.flatMap { $0.removingPercentEncoding } ?? ""
        secret = components.percentEncodedPassword.flatMap { $0.removingPercentEncoding } ?? ""
        let path = components.path
        let folder = path.hasPrefix("/") ? String(path.dropFirst()) : path
        self.folder = folder.isEmpty ? "INBOX" : folder
        var authentication = Authentication.login
        var processed: String?
        for item in components.queryItems ?? [] {
            switch item.name.lowercased() {
            case "auth":
                guard let value = item.value.flatMap({ Authentication(rawValue: $0.lowercased()) }) else { return nil }
                authentication = value
            case "processed":
                if let value = item.value, !value.isEmpty { processed = value }
            default:
                return nil
            }
        }
        self.authentication = authentication
        processedFolder = processed
        guard !user.isEmpty else { return nil }
    }

    /// `imaps://imap.acme.test:993/INBOX`: no user, no password.
    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(implicitTLS ? "imaps" : "imap")://\(shownHost):\(port)/\(folder)"
    }
}

/// How strings go into IMAP commands (RFC 3501 §4.3, §9).
public enum IMAPQuoting {
    /// `"…"` with `\` and `"` escaped; nil for text a quoted string cannot carry (CR, LF, NUL).
    public static func quoted(_ text: String) -> String? {
        guard !text.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) else { return nil }
        var result = "\""
        for character in text {
            if character == "\\" || character == "\"" { result.append("\\") }
            result.append(character)
        }
        return result + "\""
    }

    /// A folder name as IMAP names it: modified UTF-7 (RFC 3501 §5.1.3) for what is not printable ASCII,
    /// then quoted.
    public static func mailboxName(_ name: String) -> String? {
        var encoded = ""
        var pending: [UInt16] = []
        func flush() {
            guard !pending.isEmpty else { return }
            var bytes: [UInt8] = []
            for unit in pending { bytes += [UInt8(unit >> 8), UInt8(unit & 0xFF)] }
            let base64 = Data(bytes).base64EncodedString().replacingOccurrences(of: "/", with: ",").replacingOccurrences(of: "=", with: "")
            encoded += "&" + base64 + "-"
            pending = []
        }
        for scalar in name.unicodeScalars {
            if (0x20...0x7E).contains(scalar.value) {
                flush()
                encoded += scalar == "&" ? "&-" : String(scalar)
            } else {
                pending += Array(String(scalar).utf16)
            }
        }
        flush()
        return quoted(encoded)
    }

    /// The SASL XOAUTH2 initial response (Google's and Microsoft's): base64 of
    /// `user=USER\u{1}auth=Bearer TOKEN\u{1}\u{1}`.
    public static func xoauth2(user: String, token: String) -> String {
        Data("user=\(user)\u{1}auth=Bearer \(token)\u{1}\u{1}".utf8).base64EncodedString()
    }
}

/// Where polling a folder got to: its UIDVALIDITY, and the highest UID taken in (or passed over) under it.
/// Kept as `uidvalidity:uid` in the store's settings.
public struct IMAPCheckpoint: Sendable, Equatable, CustomStringConvertible {
    public var uidValidity: UInt32
    public var lastUID: UInt32

    public init(uidValidity: UInt32, lastUID: UInt32) {
        self.uidValidity = uidValidity
        self.lastUID = lastUID
    }

    public init?(_ setting: String) {
        let parts = setting.split(separator: ":")
        guard parts.count == 2, let validity = UInt32(parts[0]), let uid = UInt32(parts[1]) else { return nil }
        self.init(uidValidity: validity, lastUID: uid)
    }

    public var description: String { "\(uidValidity):\(lastUID)" }
}
