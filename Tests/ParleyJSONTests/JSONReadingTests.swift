import Foundation
import ParleyJSON
import Testing

@Suite("JSON reading")
struct JSONReadingTests {
    private func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    @Test("request bodies parse into the values Foundation's JSONDecoder gives")
    func matchesFoundation() throws {
        let documents = [
            #"{"a":1,"b":[true,false,null],"c":{"d":"e"},"f":-12.5e2,"g":"","h":[]}"#,
            #"  [ 0 , -0.5 , 1E3 , 123456789012345678 , 3.141592653589793 , 1e-7 ]  "#,
            #"{"text":"line\nbreak \"quoted\" back\\slash \/ \b\f\r\t \u00e9 \u20ac \ud83d\udc4d"}"#,
            #"{"unicode":"€ – é 日本 👍🏽","nested":[[[{"x":[{}]}]]]}"#,
            #""just a string""#,
            "42",
            "null",
        ]
        for document in documents {
            let expected = try JSONDecoder().decode(JSONValue.self, from: Data(document.utf8))
            #expect(try parse(document) == expected, "\(document)")
        }
    }

    @Test("what is not JSON is refused, naming where")
    func refusesInvalid() {
        let invalid = [
            "", " ", "{", "}", "[1,]", "[1 2]", #"{"a" 1}"#, #"{"a":1,}"#, #"{a:1}"#, "{'a':1}", "01", "1.", ".5", "-", "1e",
            "+1", "tru", "nul", "NaN", "Infinity", "1e400", #""unterminated"#, "\"tab\there\"", #""\x""#, #""\u12""#,
            #""\ud83d""#, #""\udc4d""#, #""\ud83d\u0041""#, "[1] [2]", "{\"a\":1} x",
            String(repeating: "[", count: 600) + String(repeating: "]", count: 600),
        ]
        for document in invalid {
            #expect(throws: JSONParser.Failure.self, "\(document)") { try parse(document) }
        }
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse([0x22, 0xC3, 0x28, 0x22]) }  // invalid UTF-8
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse([0x22, 0xED, 0xA0, 0x80, 0x22]) }  // an encoded surrogate
        #expect((try? parse(String(repeating: "[", count: 500) + String(repeating: "]", count: 500))) != nil)
    }

    @Test("repeated keys keep the last value")
    func repeatedKeys() throws {
        #expect(try parse(#"{"a":1,"a":2}"#) == .object(["a": .number(2)]))
    }
}
