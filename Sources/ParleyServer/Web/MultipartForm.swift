import Foundation
import MultipartKit
import NIOCore

/// A file sent with a form (`<input type="file">`, or the upload of a prepared artifact).
struct UploadedFile: Sendable {
    var field: String
    var fileName: String
    var content: [UInt8]
}

/// A `multipart/form-data` body read into its text fields and its files, by MultipartKit's parser. Parts
/// of a file input left empty (no file chosen: an empty name and no bytes) are dropped.
struct MultipartForm {
    var fields: [(name: String, value: String)] = []
    var files: [UploadedFile] = []

    /// The boundary of a `multipart/form-data` content type, or nil for any other type.
    static func boundary(of contentType: String?) -> String? {
        guard let contentType else { return nil }
        let parts = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.first?.lowercased() == "multipart/form-data" else { return nil }
        for part in parts.dropFirst() where part.lowercased().hasPrefix("boundary=") {
            let value = part.dropFirst("boundary=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            return value.isEmpty || value.count > 200 ? nil : value
        }
        return nil
    }

    init(_ body: ByteBuffer, boundary: String) throws(APIError) {
        final class Collected {
            var headers: [(String, String)] = []
            var body: [UInt8] = []
            var parts: [(headers: [(String, String)], body: [UInt8])] = []
        }
        let collected = Collected()
        let parser = MultipartParser(boundary: boundary)
        parser.onHeader = { name, value in collected.headers.append((name, value)) }
        parser.onBody = { buffer in collected.body.append(contentsOf: buffer.readableBytesView) }
        parser.onPartComplete = {
            collected.parts.append((collected.headers, collected.body))
            collected.headers = []
            collected.body = []
        }
        do {
            try parser.execute(body)
        } catch {
            throw APIError.badRequest("the multipart/form-data body could not be read")
        }
        for part in collected.parts {
            guard let disposition = part.headers.first(where: { $0.0.lowercased() == "content-disposition" })?.1,
                  let name = Self.parameter("name", in: disposition) else { continue }
            if let fileName = Self.parameter("filename", in: disposition) {
                if fileName.isEmpty && part.body.isEmpty { continue }
                files.append(UploadedFile(field: name, fileName: fileName, content: part.body))
            } else {
                fields.append((name, String(decoding: part.body, as: UTF8.self)))
            }
        }
    }

    /// A `Content-Disposition` parameter's value (`name="body"`, quoted or not; browsers escape a quote in a
    /// file name as `%22`).
    static func parameter(_ wanted: String, in header: String) -> String? {
        var rest = Substring(header)
        while let semicolon = rest.firstIndex(of: ";") {
            rest = rest[rest.index(after: semicolon)...].drop(while: { $0 == " " || $0 == "\t" })
            guard let equals = rest.firstIndex(of: "=") else { return nil }
            let key = rest[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            var valueStart = rest[rest.index(after: equals)...]
            let value: String
            if valueStart.first == "\"" {
                valueStart = valueStart.dropFirst()
                var text = ""
                var index = valueStart.startIndex
                while index < valueStart.endIndex, valueStart[index] != "\"" {
                    if valueStart[index] == "\\", valueStart.index(after: index) < valueStart.endIndex {
                        index = valueStart.index(after: index)
                    }
                    text.append(valueStart[index])
                    index = valueStart.index(after: index)
                }
                value = text
                rest = index < valueStart.endIndex ? valueStart[valueStart.index(after: index)...] : ""
            } else {
                let end = valueStart.firstIndex(of: ";") ?? valueStart.endIndex
                value = valueStart[..<end].trimmingCharacters(in: .whitespaces)
                rest = valueStart[end...]
            }
            if key == wanted { return value }
        }
        return nil
    }
}
