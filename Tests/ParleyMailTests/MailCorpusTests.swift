import Foundation
import ParleyMail
import Testing

/// One message of the corpus (`Corpus/*.eml`, shaped after what each client really sends) and what Parley
/// must read from it; the expectations are in `Corpus/expected.json`.
struct CorpusMessage: Decodable, Sendable, CustomTestStringConvertible {
    struct Bounce: Decodable, Sendable {
        var messageID: String
        var recipients: [String]
        var status: String?
    }

    struct File: Decodable, Sendable {
        var name: String
        var size: Int
    }

    var file: String
    /// The client or the shape the message stands for.
    var client: String
    var from: String?
    var fromName: String?
    var to: [String]?
    var cc: [String]?
    /// The subject without `Re:`/`Fwd:` and the `[CONV-n]` tag.
    var subject: String
    var subjectTag: Int?
    var messageID: String?
    /// Text that must be in the folded reply, and text that must not (quoted history, signatures, markup).
    var replyContains: [String]
    var replyExcludes: [String]
    /// The whole reply, when it is checked exactly.
    var reply: String?
    /// Why it was sent by a machine (nil: a person wrote it).
    var automatic: String?
    var bounce: Bounce?
    var files: [File]
    /// What `ParleyApp.receiveMail` does with it: opened, appended, ignored, bounce-recorded.
    var outcome: String

    var testDescription: String { "\(file) (\(client))" }

    /// The corpus folder beside this file (excluded from the target in Package.swift; read by path).
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus")

    static let all: [CorpusMessage] = {
        guard let data = try? Data(contentsOf: folder.appendingPathComponent("expected.json")),
              let messages = try? JSONDecoder().decode([CorpusMessage].self, from: data) else { return [] }
        return messages
    }()

    var bytes: [UInt8] {
        get throws { Array(try Data(contentsOf: Self.folder.appendingPathComponent(file))) }
    }
}

@Suite("Mail corpus")
struct MailCorpusTests {
    @Test("the corpus has at least 30 messages, each with its expectations, and nothing else")
    func corpusIsComplete() throws {
        let messages = CorpusMessage.all
        #expect(messages.count >= 30)
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: CorpusMessage.folder.path).filter { $0.hasSuffix(".eml") }
        #expect(Set(onDisk) == Set(messages.map(\.file)))
        #expect(Set(messages.map(\.file)).count == messages.count)
    }

    @Test("each message reads as expected: sender, subject, reply, machine mail, bounce, files", arguments: CorpusMessage.all)
    func reads(_ expected: CorpusMessage) throws {
        let mail = InboundMail(try expected.bytes)
        #expect(mail.from?.email == expected.from)
        if let name = expected.fromName { #expect(mail.from?.name == name) }
        if let to = expected.to { #expect(mail.to.map(\.email) == to) }
        if let cc = expected.cc { #expect(mail.cc.map(\.email) == cc) }
        #expect(mail.cleanSubject == expected.subject)
        #expect(mail.subjectTag == expected.subjectTag)
        if let id = expected.messageID { #expect(mail.messageID == id) }
        for text in expected.replyContains {
            #expect(mail.reply.contains(text), "reply lacks \(text.debugDescription): \(mail.reply.debugDescription)")
        }
        for text in expected.replyExcludes {
            #expect(!mail.reply.contains(text), "reply has \(text.debugDescription): \(mail.reply.debugDescription)")
        }
        if let reply = expected.reply { #expect(mail.reply == reply) }
        #expect(!mail.reply.contains("\u{FFFD}"), "replacement characters: \(mail.reply.debugDescription)")
        #expect(mail.automatic == expected.automatic)
        #expect(mail.isBounce == (expected.bounce != nil))
        if let bounce = expected.bounce {
            #expect(mail.bouncedMessageID == bounce.messageID)
            #expect(mail.bouncedRecipients == bounce.recipients)
            if let status = bounce.status { #expect(mail.bounceStatus == status) }
        }
        #expect(mail.files.map(\.name) == expected.files.map(\.name))
        #expect(mail.files.map(\.content.count) == expected.files.map(\.size))
    }

    @Test("line endings do not change what a message says: CRLF and bare LF read alike", arguments: CorpusMessage.all)
    func lineEndings(_ expected: CorpusMessage) throws {
        let bytes = try expected.bytes
        var bare: [UInt8] = []
        bare.reserveCapacity(bytes.count)
        for (index, byte) in bytes.enumerated() where !(byte == 0x0D && index + 1 < bytes.count && bytes[index + 1] == 0x0A) {
            bare.append(byte)
        }
        let crlf = InboundMail(bytes)
        let lf = InboundMail(bare)
        #expect(lf.cleanSubject == crlf.cleanSubject)
        #expect(lf.reply.replacingOccurrences(of: "\r\n", with: "\n") == crlf.reply.replacingOccurrences(of: "\r\n", with: "\n"))
        #expect(lf.automatic == crlf.automatic)
        #expect(lf.files.map(\.name) == crlf.files.map(\.name))
    }

    /// A deterministic cousin of the libFuzzer run (scripts/fuzz-mime), cheap enough for every test run:
    /// each corpus message cut, bytes flipped, spliced with another; nothing crashes or hangs, and a message
    /// never yields more file bytes than it has.
    @Test("seeded mutations of the corpus: nothing crashes, output stays bounded by input")
    func mutations() throws {
        let seeds = try CorpusMessage.all.map { try $0.bytes }
        var generator = SplitMix64(seed: 0x5EED_3A11)
        let interesting: [[UInt8]] = ["--", "\r\n", "\n\n", "=?", "?=", "=\r\n", "boundary=", "Content-Type: multipart/mixed; boundary=x\r\n",
                                      "Content-Transfer-Encoding: base64\r\n", "charset=shift_jis", "*0*=", "%", "<", ">", "&#x", "\u{00}"].map { Array($0.utf8) }
        for round in 0..<600 {
            var bytes = seeds[round % seeds.count]
            for _ in 0..<(1 + Int(generator.next() % 8)) {
                guard !bytes.isEmpty else { break }
                let at = Int(generator.next() % UInt64(bytes.count))
                switch generator.next() % 5 {
                case 0: bytes[at] = UInt8(truncatingIfNeeded: generator.next())
                case 1: bytes.removeSubrange(at..<min(bytes.count, at + Int(generator.next() % 64)))
                case 2: bytes.insert(contentsOf: interesting[Int(generator.next() % UInt64(interesting.count))], at: at)
                case 3: bytes = Array(bytes[..<at])
                default:
                    let other = seeds[Int(generator.next() % UInt64(seeds.count))]
                    let from = Int(generator.next() % UInt64(other.count))
                    bytes.insert(contentsOf: other[from..<min(other.count, from + 512)], at: at)
                }
            }
            let mail = InboundMail(bytes)
            #expect(mail.files.reduce(0) { $0 + $1.content.count } <= bytes.count)
            #expect(mail.reply.utf8.count <= max(64, bytes.count * 4))
        }
    }
}

/// A small deterministic generator (SplitMix64), so that a failing mutation can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E9B7
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
