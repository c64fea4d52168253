// libFuzzer's entry point for ParleyMail's reader (scripts/fuzz-mime compiles it with the module's sources;
// SwiftPM never sees this folder). An input is read as a whole message; one that starts with "H\n" is also
// read as HTML, "W\n" as header text with encoded words. Checks, beyond not crashing: a message never
// yields more file bytes than it has, nor text out of proportion to it.

@_cdecl("LLVMFuzzerTestOneInput")
public func parleyMailFuzzInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if bytes.starts(with: [0x48, 0x0A]) {
        let text = HTMLText.text(String(decoding: bytes.dropFirst(2), as: UTF8.self))
        precondition(text.utf8.count <= bytes.count * 4 + 16, "HTML text out of proportion")
        return 0
    }
    if bytes.starts(with: [0x57, 0x0A]) {
        let text = EncodedWords.decode(String(decoding: bytes.dropFirst(2), as: UTF8.self))
        precondition(text.utf8.count <= bytes.count * 4 + 16, "decoded words out of proportion")
        return 0
    }
    let mail = InboundMail(bytes)
    precondition(mail.files.reduce(0) { $0 + $1.content.count } <= bytes.count, "files larger than the message")
    precondition(mail.reply.utf8.count <= bytes.count * 4 + 16 && mail.fullText.utf8.count <= bytes.count * 4 + 16, "text out of proportion")
    precondition(mail.bouncedRecipients.count <= bytes.count, "more recipients than bytes")
    _ = mail.cleanSubject
    _ = mail.subjectTag
    return 0
}
