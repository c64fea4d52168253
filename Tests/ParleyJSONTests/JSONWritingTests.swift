import ParleyJSON
import Testing

@Suite("JSON writing")
struct JSONWritingTests {
    @Test("strings escape quotes, backslashes, control characters, line separators and HTML characters, and nothing else")
    func escapes() {
        let cases: [(String, String)] = [
            ("plain", #""plain""#),
            ("", #""""#),
            ("say \"hi\"\\", #""say \"hi\"\\""#),
            ("a\nb\rc\td", #""a\nb\rc\td""#),
            ("\u{01}\u{1f}", #""\u0001\u001f""#),
            ("<b>&</b>", #""\u003cb\u003e\u0026\u003c/b\u003e""#),
            ("x\u{2028}y\u{2029}z", #""x\u2028y\u2029z""#),
            ("€ – é 日本 👍🏽", "\"€ – é 日本 👍🏽\""),
            ("\u{2020}\u{2030}", "\"\u{2020}\u{2030}\""),
        ]
        for (value, expected) in cases {
            #expect(JSONValue.string(value).serialized == expected)
        }
        #expect(JSONValue.object(["b": .string("<"), "a": .array([.number(1), .null])]).serialized == #"{"a":[1,null],"b":"\u003c"}"#)
    }
}
