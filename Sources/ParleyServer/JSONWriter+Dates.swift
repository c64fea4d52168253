import Foundation
import ParleyJSON

extension JSONWriter {
    /// A timestamp as DevRev writes it, left out when nil.
    mutating func field(_ name: StaticString, date: Date?) {
        guard let date else { return }
        key(name)
        string(Timestamp.format(date))
    }
}
