import Foundation

/// Splits text into the tokens keyword matching works on, the same way for keywords and for messages:
/// case-, accent- and width-insensitive; words of spaced scripts are tokens, and each ideograph, kana,
/// Thai-like letter or emoji is a token of its own (those scripts do not separate words with spaces).
/// A token is identified by a 64-bit hash of its folded scalars.
public enum TextTokens {
    /// Folded forms of the scalars below U+3000 and the full-width forms, computed once.
    private static let foldTable: [UInt32: [Unicode.Scalar]] = {
        var table: [UInt32: [Unicode.Scalar]] = [:]
        let ranges: [ClosedRange<UInt32>] = [0x00C0...0x24FF, 0x1E00...0x1FFF, 0xFF01...0xFF5E]
        for range in ranges {
            for value in range {
                guard let scalar = Unicode.Scalar(value) else { continue }
                let folded = String(scalar).folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: nil)
                let scalars = folded.unicodeScalars.filter { $0.properties.generalCategory != .nonspacingMark }
                if scalars.count != 1 || scalars.first != scalar { table[value] = Array(scalars) }
            }
        }
        return table
    }()

    enum Kind { case word, single, ignored, separator }

    static func kind(_ scalar: Unicode.Scalar) -> Kind {
        let value = scalar.value
        if value < 0x80 {
            switch value {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return .word
            default: return .separator
            }
        }
        switch value {
        case 0x0E00...0x0EFF, 0x1000...0x109F, 0x1780...0x17FF,      // Thai, Lao, Myanmar, Khmer
             0x2E80...0x2FDF, 0x3040...0x30FF, 0x3100...0x31FF,      // CJK radicals, kana, bopomofo
             0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF,      // CJK ideographs
             0x20000...0x3FFFF:
            return .single
        case 0x200B...0x200D, 0x2060, 0xFEFF, 0xFE00...0xFE0F, 0x1F3FB...0x1F3FF:
            return .ignored                                          // zero-width, joiners, variation selectors, skin tones
        default: break
        }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .decimalNumber, .letterNumber, .otherNumber:
            return .word
        case .nonspacingMark, .spacingMark, .enclosingMark, .format:
            return .ignored
        case .otherSymbol:
            return scalar.properties.isEmoji ? .single : .separator
        default:
            return .separator
        }
    }

    @inline(__always)
    static func fold(_ scalar: Unicode.Scalar, into body: (UInt32) -> Void) {
        let value = scalar.value
        if value < 0x80 {
            body(value >= 0x41 && value <= 0x5A ? value + 0x20 : value)
        } else if let folded = foldTable[value] {
            for part in folded { body(part.value) }
        } else if scalar.properties.changesWhenLowercased {
            for part in scalar.properties.lowercaseMapping.unicodeScalars { body(part.value) }
        } else {
            body(value)
        }
    }

    static let offset: UInt64 = 0xcbf2_9ce4_8422_2325
    static let prime: UInt64 = 0x0000_0100_0000_01b3

    @inline(__always)
    static func mix(_ hash: UInt64, _ value: UInt32) -> UInt64 {
        var hash = hash
        hash = (hash ^ UInt64(value & 0xFF)) &* prime
        hash = (hash ^ UInt64((value >> 8) & 0xFF)) &* prime
        hash = (hash ^ UInt64(value >> 16)) &* prime
        return hash
    }

    /// Calls `body` with each token's hash, in order. Decodes UTF-8 by hand with an ASCII fast path: this
    /// loop is most of a routing decision's cost.
    public static func forEach(in text: String, _ body: (UInt64) -> Void) {
        var text = text
        text.withUTF8 { bytes in
            var hash = offset
            var inWord = false
            var index = 0
            let count = bytes.count
            while index < count {
                let lead = bytes[index]
                if lead < 0x80 {
                    index += 1
                    let value = UInt32(lead)
                    switch lead {
                    case 0x30...0x39, 0x61...0x7A:
                        inWord = true
                        hash = mix(hash, value)
                    case 0x41...0x5A:
                        inWord = true
                        hash = mix(hash, value + 0x20)
                    default:
                        if inWord { body(hash); hash = offset; inWord = false }
                    }
                    continue
                }
                // A multi-byte scalar (input from Swift's String is valid UTF-8).
                var value: UInt32
                var length: Int
                if lead >= 0xF0 { value = UInt32(lead & 0x07); length = 4 }
                else if lead >= 0xE0 { value = UInt32(lead & 0x0F); length = 3 }
                else { value = UInt32(lead & 0x1F); length = 2 }
                for offset in 1..<length where index + offset < count {
                    value = value << 6 | UInt32(bytes[index + offset] & 0x3F)
                }
                index += length
                guard let scalar = Unicode.Scalar(value) else { continue }
                switch kind(scalar) {
                case .word:
                    inWord = true
                    fold(scalar) { hash = mix(hash, $0) }
                case .ignored:
                    continue
                case .single:
                    if inWord { body(hash); hash = offset; inWord = false }
                    var single = offset
                    fold(scalar) { single = mix(single, $0) }
                    body(single)
                case .separator:
                    if inWord { body(hash); hash = offset; inWord = false }
                }
            }
            if inWord { body(hash) }
        }
    }

    /// The token hashes of `text`.
    public static func hashes(_ text: String) -> [UInt64] {
        var result: [UInt64] = []
        forEach(in: text) { result.append($0) }
        return result
    }

    /// The folded tokens of `text`, readable (for explanations and tests).
    public static func words(_ text: String) -> [String] {
        var result: [String] = []
        var current = String.UnicodeScalarView()
        func flush() {
            if !current.isEmpty { result.append(String(current)); current = String.UnicodeScalarView() }
        }
        for scalar in text.unicodeScalars {
            switch kind(scalar) {
            case .word: fold(scalar) { if let s = Unicode.Scalar($0) { current.append(s) } }
            case .ignored: continue
            case .single:
                flush()
                fold(scalar) { if let s = Unicode.Scalar($0) { current.append(s) } }
                flush()
            case .separator: flush()
            }
        }
        flush()
        return result
    }
}

/// An open-addressing map from 64-bit keys to 32-bit values: the automaton's two lookups per token,
/// without the per-lookup hashing cost of `Dictionary`.
struct HashIndex: Sendable {
    private var keys: [UInt64]
    private var values: [Int32]
    private let mask: Int

    init(_ entries: [UInt64: Int32]) {
        var capacity = 16
        while capacity < entries.count * 2 { capacity <<= 1 }
        keys = Array(repeating: 0, count: capacity)
        values = Array(repeating: -1, count: capacity)
        mask = capacity - 1
        for (key, value) in entries {
            var slot = Self.slot(key, mask)
            while values[slot] >= 0 { slot = (slot + 1) & mask }
            keys[slot] = key
            values[slot] = value
        }
    }

    @inline(__always)
    private static func slot(_ key: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 20) & mask
    }

    @inline(__always)
    subscript(key: UInt64) -> Int32? {
        var slot = Self.slot(key, mask)
        while true {
            let value = values[slot]
            if value < 0 { return nil }
            if keys[slot] == key { return value }
            slot = (slot + 1) & mask
        }
    }
}

/// A word-level Aho–Corasick automaton over many keywords and phrases: one pass over a text's tokens
/// finds every keyword in it, whatever the number of keywords. Built once per configuration version.
public struct KeywordAutomaton: Sendable {
    /// Token hash → symbol.
    private let vocabulary: HashIndex
    /// (node << 32 | symbol) → child node.
    private let edges: HashIndex
    private let fail: [Int32]
    /// Keywords ending at each node, including those ending at its failure chain.
    private let outputs: [[Int32]]

    /// `keywords[i]` is keyword i as token hashes; an empty keyword never matches.
    public init(keywords: [[UInt64]]) {
        var vocabulary: [UInt64: Int32] = [:]
        var edges: [UInt64: Int32] = [:]
        var children: [[Int32]] = [[]]
        var outputs: [[Int32]] = [[]]
        for (index, keyword) in keywords.enumerated() where !keyword.isEmpty {
            var node: Int32 = 0
            for hash in keyword {
                let symbol: Int32
                if let known = vocabulary[hash] { symbol = known } else {
                    symbol = Int32(vocabulary.count)
                    vocabulary[hash] = symbol
                }
                let key = UInt64(UInt32(node)) << 32 | UInt64(UInt32(symbol))
                if let child = edges[key] { node = child } else {
                    let child = Int32(outputs.count)
                    edges[key] = child
                    children[Int(node)].append(symbol)
                    children.append([])
                    outputs.append([])
                    node = child
                }
            }
            outputs[Int(node)].append(Int32(index))
        }
        var fail = [Int32](repeating: 0, count: outputs.count)
        var queue: [Int32] = []
        for symbol in children[0] {
            queue.append(edges[UInt64(UInt32(symbol))]!)
        }
        var head = 0
        while head < queue.count {
            let node = queue[head]
            head += 1
            for symbol in children[Int(node)] {
                let child = edges[UInt64(UInt32(node)) << 32 | UInt64(UInt32(symbol))]!
                var state = fail[Int(node)]
                while state != 0, edges[UInt64(UInt32(state)) << 32 | UInt64(UInt32(symbol))] == nil {
                    state = fail[Int(state)]
                }
                let target = edges[UInt64(UInt32(state)) << 32 | UInt64(UInt32(symbol))] ?? 0
                fail[Int(child)] = target == child ? 0 : target
                outputs[Int(child)] += outputs[Int(fail[Int(child)])]
                queue.append(child)
            }
        }
        self.vocabulary = HashIndex(vocabulary)
        self.edges = HashIndex(edges)
        self.fail = fail
        self.outputs = outputs
    }

    /// Calls `found` with the index of every keyword occurring in `text` (repeats possible).
    public func scan(_ text: String, _ found: (Int) -> Void) {
        var node: Int32 = 0
        TextTokens.forEach(in: text) { hash in
            guard let symbol = vocabulary[hash] else {
                node = 0
                return
            }
            while true {
                if let next = edges[UInt64(UInt32(node)) << 32 | UInt64(UInt32(symbol))] {
                    node = next
                    break
                }
                if node == 0 { break }
                node = fail[Int(node)]
            }
            for keyword in outputs[Int(node)] { found(Int(keyword)) }
        }
    }
}
