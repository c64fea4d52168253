/// A regular expression matched in time linear in the text: Thompson's construction, run as a set of
/// states that advance together one scalar at a time (as RE2 and Go's `regexp` do), never by
/// backtracking. `(a+)+$` costs the same few steps per character as `a+$`. What needs backtracking
/// (backreferences, lookaround) is refused when the pattern is compiled. Matching is case-insensitive,
/// on Unicode scalars; only whether the pattern occurs somewhere is answered (spam rules need no more).
/// Decision 0008 says why Parley has its own matcher.
public struct LinearPattern: Sendable, Hashable {
    public let source: String
    private let program: [Instruction]

    /// The most instructions a compiled pattern may have (`a{1000}` is a thousand): bounds the states a
    /// search advances per character.
    public static let largestProgram = 2_000

    public init(_ source: String) throws(PatternError) {
        var parser = PatternParser(Array(source.unicodeScalars))
        let tree = try parser.parse()
        var compiler = PatternCompiler()
        try compiler.emit(tree)
        compiler.program.append(.match)
        guard compiler.program.count <= Self.largestProgram else {
            throw PatternError("is too large once its repetitions are spelled out (\(compiler.program.count) steps, at most \(Self.largestProgram))")
        }
        self.source = source
        program = compiler.program
    }

    public enum Outcome: Sendable, Equatable {
        case match
        case noMatch
        /// The search spent its budget of steps before it could answer.
        case outOfSteps
    }

    /// Whether the pattern occurs anywhere in `text`, spending at most `budget` steps (one per state
    /// advanced per character); what is spent is taken from `budget`.
    public func search(in text: FoldedText, budget: inout Int) -> Outcome {
        let count = program.count
        var current = StateSet(capacity: count), next = StateSet(capacity: count)
        var stack: [Int] = []
        stack.reserveCapacity(count)
        let scalars = text.scalars
        for position in 0...scalars.count {
            // Unanchored: a new attempt starts at every position, in the same set as the ongoing ones.
            if follow(from: 0, at: position, in: text, into: &current, stack: &stack) { return .match }
            if position == scalars.count { break }
            budget -= current.members.count
            if budget < 0 { return .outOfSteps }
            for pc in current.members {
                if case .scalar(let set) = program[pc], set.contains(scalars[position], upper: text.upper[position]) {
                    if follow(from: pc + 1, at: position + 1, in: text, into: &next, stack: &stack) { return .match }
                }
            }
            swap(&current, &next)
            next.clear()
        }
        return .noMatch
    }

    /// Adds `start` and every state reachable from it without reading a scalar to `set` (the states that
    /// wait for a scalar); true when the match state is among them.
    private func follow(from start: Int, at position: Int, in text: FoldedText, into set: inout StateSet,
                        stack: inout [Int]) -> Bool {
        stack.append(start)
        while let pc = stack.popLast() {
            guard set.insert(pc) else { continue }
            switch program[pc] {
            case .scalar: continue
            case .match:
                stack.removeAll(keepingCapacity: true)
                return true
            case .jump(let target): stack.append(target)
            case .split(let first, let second):
                stack.append(second)
                stack.append(first)
            case .assert(let assertion):
                if assertion.holds(at: position, in: text.scalars) { stack.append(pc + 1) }
            }
        }
        return false
    }
}

/// A text prepared for matching: lowercased, with each scalar's uppercase beside it (a pattern's `[A-Z]`
/// then matches either case). Prepared once per text, searched by every pattern.
public struct FoldedText: Sendable {
    let scalars: [Unicode.Scalar]
    let upper: [Unicode.Scalar]

    public init(_ text: String) {
        scalars = Array(text.lowercased().unicodeScalars)
        upper = scalars.map { scalar in
            let mapped = scalar.properties.uppercaseMapping.unicodeScalars
            return mapped.count == 1 ? mapped.first! : scalar
        }
    }
}

/// Why a pattern cannot be used; the message completes "pattern 'x' …".
public struct PatternError: Error, Sendable, Equatable {
    public var message: String
    init(_ message: String) { self.message = message }
}

enum Instruction: Sendable, Hashable {
    /// Reads one scalar in the set.
    case scalar(ScalarSet)
    case split(Int, Int)
    case jump(Int)
    case assert(Assertion)
    case match
}

enum Assertion: Sendable, Hashable {
    case start, end, wordBoundary, notWordBoundary

    func holds(at position: Int, in scalars: [Unicode.Scalar]) -> Bool {
        switch self {
        case .start: return position == 0
        case .end: return position == scalars.count || (position == scalars.count - 1 && scalars[position] == "\n")
        case .wordBoundary, .notWordBoundary:
            let before = position > 0 && ScalarClass.word.contains(scalars[position - 1])
            let after = position < scalars.count && ScalarClass.word.contains(scalars[position])
            return (before != after) == (self == .wordBoundary)
        }
    }
}

enum ScalarClass: Sendable, Hashable {
    case digit, word, space

    func contains(_ scalar: Unicode.Scalar) -> Bool {
        switch self {
        case .digit: return scalar.properties.numericType == .decimal
        case .word: return scalar == "_" || scalar.properties.isAlphabetic || scalar.properties.numericType == .decimal
        case .space: return scalar.properties.isWhitespace
        }
    }
}

/// What one `.scalar` instruction accepts: ranges and classes, possibly negated.
struct ScalarSet: Sendable, Hashable {
    enum Item: Sendable, Hashable {
        case range(UInt32, UInt32)
        case inClass(ScalarClass)
        case notInClass(ScalarClass)
        /// `.`: anything but a line break.
        case notNewline
    }

    var items: [Item]
    var negated = false

    /// Whether the (lowercased) scalar or its uppercase is in the set: `[^a-z]` refuses `o` whose
    /// uppercase `O` is not in a-z, since the set names the letter in one of its cases.
    func contains(_ scalar: Unicode.Scalar, upper: Unicode.Scalar) -> Bool {
        (inItems(scalar) || (upper != scalar && inItems(upper))) != negated
    }

    private func inItems(_ scalar: Unicode.Scalar) -> Bool {
        var found = false
        for item in items {
            switch item {
            case .range(let low, let high): found = low <= scalar.value && scalar.value <= high
            case .inClass(let kind): found = kind.contains(scalar)
            case .notInClass(let kind): found = !kind.contains(scalar)
            case .notNewline: found = scalar != "\n"
            }
            if found { break }
        }
        return found
    }
}

/// A parsed pattern.
indirect enum PatternNode: Sendable {
    case empty
    case scalar(ScalarSet)
    case assert(Assertion)
    case sequence([PatternNode])
    case either([PatternNode])
    case repeated(PatternNode, min: Int, max: Int?)
}

/// Recursive descent over the pattern's scalars.
struct PatternParser {
    private let scalars: [Unicode.Scalar]
    private var index = 0
    /// Counted repetitions beyond this are refused before they are spelled out.
    static let largestCount = 1_000

    init(_ scalars: [Unicode.Scalar]) { self.scalars = scalars }

    private var peek: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

    private mutating func next() -> Unicode.Scalar? {
        defer { index += 1 }
        return peek
    }

    mutating func parse() throws(PatternError) -> PatternNode {
        let node = try alternatives()
        if index < scalars.count { throw PatternError("has an unmatched ')'") }
        return node
    }

    private mutating func alternatives() throws(PatternError) -> PatternNode {
        var branches = [try sequence()]
        while peek == "|" {
            index += 1
            branches.append(try sequence())
        }
        return branches.count == 1 ? branches[0] : .either(branches)
    }

    private mutating func sequence() throws(PatternError) -> PatternNode {
        var items: [PatternNode] = []
        while let scalar = peek, scalar != "|", scalar != ")" {
            items.append(try repetition())
        }
        return items.isEmpty ? .empty : (items.count == 1 ? items[0] : .sequence(items))
    }

    private mutating func repetition() throws(PatternError) -> PatternNode {
        var node = try atom()
        while let scalar = peek {
            let bounds: (Int, Int?)
            switch scalar {
            case "*": index += 1; bounds = (0, nil)
            case "+": index += 1; bounds = (1, nil)
            case "?": index += 1; bounds = (0, 1)
            case "{":
                guard let counted = try count() else { return node }
                bounds = counted
            default: return node
            }
            // Lazy (`*?`) and possessive (`*+`) forms match the same texts: only whether one occurs is asked.
            if peek == "?" || peek == "+" { index += 1 }
            node = .repeated(node, min: bounds.0, max: bounds.1)
        }
        return node
    }

    /// `{n}`, `{n,}`, `{n,m}`; nil (and nothing read) when the brace does not start one.
    private mutating func count() throws(PatternError) -> (Int, Int?)? {
        let start = index
        index += 1
        func number() -> Int? {
            var value: Int?
            while let scalar = peek, let digit = scalar.properties.numericType == .decimal ? Int(String(scalar)) : nil, scalar.isASCII {
                value = min((value ?? 0) * 10 + digit, Self.largestCount + 1)
                index += 1
            }
            return value
        }
        guard let low = number() else { index = start; throw PatternError("has a '{' that is not a repetition count (write '\\{' for the character)") }
        var high: Int? = low
        if peek == "," {
            index += 1
            high = number()
        }
        guard next() == "}" else { index = start; throw PatternError("has an unfinished repetition count") }
        if let high, high < low { throw PatternError("has a repetition count {\(low),\(high)} whose maximum is below its minimum") }
        if low > Self.largestCount || (high ?? 0) > Self.largestCount {
            throw PatternError("repeats more than \(Self.largestCount) times")
        }
        return (low, high)
    }

    private mutating func atom() throws(PatternError) -> PatternNode {
        guard let scalar = next() else { throw PatternError("ends unexpectedly") }
        switch scalar {
        case "(": return try group()
        case "[": return .scalar(try characterClass())
        case ".": return .scalar(ScalarSet(items: [.notNewline]))
        case "^": return .assert(.start)
        case "$": return .assert(.end)
        case "\\": return try escape(inClass: false)
        case "*", "+", "?": throw PatternError("has '\(scalar)' with nothing before it to repeat")
        case "{": throw PatternError("has a '{' with nothing before it to repeat (write '\\{' for the character)")
        default: return .scalar(Self.literal(scalar))
        }
    }

    private mutating func group() throws(PatternError) -> PatternNode {
        if peek == "?" {
            index += 1
            switch next() {
            case ":": break
            case "<" where peek != "=" && peek != "!":
                // A named group: the name is read and ignored (nothing is captured).
                while let scalar = next(), scalar != ">" {
                    guard scalar == "_" || scalar.properties.isAlphabetic || scalar.properties.numericType == .decimal else {
                        throw PatternError("has a group name that is not a word")
                    }
                }
            case "=", "!", "<":
                throw PatternError("uses lookaround, which needs backtracking: spam patterns are matched in linear time")
            default:
                throw PatternError("uses a '(?' construct other than a plain '(?:…)' or named group")
            }
        }
        let inside = try alternatives()
        guard next() == ")" else { throw PatternError("has an unclosed '('") }
        return inside
    }

    private mutating func characterClass() throws(PatternError) -> ScalarSet {
        var set = ScalarSet(items: [])
        if peek == "^" {
            index += 1
            set.negated = true
        }
        var first = true
        while true {
            guard let scalar = next() else { throw PatternError("has an unclosed '['") }
            if scalar == "]", !first { break }
            first = false
            var low: Unicode.Scalar
            switch scalar {
            case "\\":
                guard case .scalar(let escaped) = try escape(inClass: true) else { throw PatternError("has an assertion inside '[…]'") }
                guard escaped.items.count == 1, case .range(let a, let b) = escaped.items[0], a == b, !escaped.negated,
                      let single = Unicode.Scalar(a) else {
                    set.items += escaped.items
                    continue
                }
                low = single
            case "[": throw PatternError("nests '[' inside '[…]' (write '\\[' for the character)")
            default: low = scalar
            }
            if peek == "-", index + 1 < scalars.count, scalars[index + 1] != "]" {
                index += 1
                guard var high = next() else { throw PatternError("has an unclosed '['") }
                if high == "\\" {
                    guard let escaped = next(), let literal = Self.escapedLiteral(escaped) else {
                        throw PatternError("has a range in '[…]' that ends in a class")
                    }
                    high = literal
                }
                guard low.value <= high.value else { throw PatternError("has a range \(low)-\(high) that runs backwards") }
                set.items.append(.range(Self.folded(low).value, Self.folded(high).value))
                if low.properties.isUppercase || high.properties.isUppercase { set.items.append(.range(low.value, high.value)) }
            } else {
                set.items.append(Self.literal(low).items[0])
            }
        }
        return set
    }

    private mutating func escape(inClass: Bool) throws(PatternError) -> PatternNode {
        guard let scalar = next() else { throw PatternError("ends with a lone '\\'") }
        switch scalar {
        case "d": return .scalar(ScalarSet(items: [.inClass(.digit)]))
        case "D": return .scalar(ScalarSet(items: [.notInClass(.digit)]))
        case "w": return .scalar(ScalarSet(items: [.inClass(.word)]))
        case "W": return .scalar(ScalarSet(items: [.notInClass(.word)]))
        case "s": return .scalar(ScalarSet(items: [.inClass(.space)]))
        case "S": return .scalar(ScalarSet(items: [.notInClass(.space)]))
        case "b" where !inClass: return .assert(.wordBoundary)
        case "B" where !inClass: return .assert(.notWordBoundary)
        case "1"..."9", "k":
            throw PatternError("uses a backreference, which needs backtracking: spam patterns are matched in linear time")
        default:
            guard let literal = Self.escapedLiteral(scalar) else { throw PatternError("uses the escape '\\\(scalar)', which spam patterns do not support") }
            return .scalar(Self.literal(literal))
        }
    }

    /// What `\x` stands for when it is one character: `\n`, `\t`, `\.`, `\\`…
    private static func escapedLiteral(_ scalar: Unicode.Scalar) -> Unicode.Scalar? {
        switch scalar {
        case "n": "\n"
        case "t": "\t"
        case "r": "\r"
        case "f": "\u{0C}"
        case "v": "\u{0B}"
        case "0": "\0"
        default: scalar.isASCII && !scalar.properties.isAlphabetic && scalar.properties.numericType == nil ? scalar : nil
        }
    }

    /// The texts searched are lowercased; so are the pattern's characters.
    private static func folded(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        let lower = scalar.properties.lowercaseMapping.unicodeScalars
        return lower.count == 1 ? lower.first! : scalar
    }

    private static func literal(_ scalar: Unicode.Scalar) -> ScalarSet {
        let value = folded(scalar).value
        return ScalarSet(items: [.range(value, value)])
    }
}

/// Spells a parsed pattern out as instructions.
struct PatternCompiler {
    var program: [Instruction] = []

    mutating func emit(_ node: PatternNode) throws(PatternError) {
        guard program.count <= LinearPattern.largestProgram else { return }
        switch node {
        case .empty: break
        case .scalar(let set): program.append(.scalar(set))
        case .assert(let assertion): program.append(.assert(assertion))
        case .sequence(let items): for item in items { try emit(item) }
        case .either(let branches):
            var jumps: [Int] = []
            for (offset, branch) in branches.enumerated() {
                if offset < branches.count - 1 {
                    let split = program.count
                    program.append(.split(split + 1, 0))
                    try emit(branch)
                    jumps.append(program.count)
                    program.append(.jump(0))
                    program[split] = .split(split + 1, program.count)
                } else {
                    try emit(branch)
                }
            }
            for jump in jumps { program[jump] = .jump(program.count) }
        case .repeated(let body, let min, let max):
            for _ in 0..<min { try emit(body) }
            if let max {
                // Each optional copy may be skipped to the end.
                var skips: [Int] = []
                for _ in min..<max {
                    skips.append(program.count)
                    program.append(.split(program.count + 1, 0))
                    try emit(body)
                }
                for skip in skips { program[skip] = .split(skip + 1, program.count) }
            } else {
                let loop = program.count
                program.append(.split(loop + 1, 0))
                try emit(body)
                program.append(.jump(loop))
                program[loop] = .split(loop + 1, program.count)
            }
        }
    }
}

/// The states of a search at one position: insertion in O(1), cleared in O(members).
struct StateSet {
    private var present: [Bool]
    private(set) var members: [Int] = []

    init(capacity: Int) {
        present = Array(repeating: false, count: capacity)
        members.reserveCapacity(capacity)
    }

    /// Inserts `state`; false when it was already there.
    mutating func insert(_ state: Int) -> Bool {
        if present[state] { return false }
        present[state] = true
        members.append(state)
        return true
    }

    mutating func clear() {
        for member in members { present[member] = false }
        members.removeAll(keepingCapacity: true)
    }
}
