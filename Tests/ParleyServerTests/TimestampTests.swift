import Foundation
@testable import ParleyServer
import Testing

@Suite("Timestamps")
struct TimestampTests {
    @Test("timestamps are written as Foundation's ISO 8601 style writes them, milliseconds truncated")
    func timestamps() {
        var generator = SystemRandomNumberGenerator()
        var dates = [Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: -0.0005), Date(timeIntervalSince1970: 951_782_400),
                     Date(timeIntervalSince1970: 1_709_164_799.9999), Date(timeIntervalSince1970: -2_208_988_800.123),
                     Date(timeIntervalSince1970: 253_402_300_799.999)]
        for _ in 0..<2_000 {
            dates.append(Date(timeIntervalSince1970: Double.random(in: -1.1e10...2.5e11, using: &generator)))
        }
        for date in dates {
            #expect(Timestamp.format(date) == date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)),
                    "\(date.timeIntervalSince1970)")
        }
    }
}
