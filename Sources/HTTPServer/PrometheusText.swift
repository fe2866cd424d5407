/// A page of metrics in Prometheus's text exposition format 0.0.4: each family a
/// `# HELP` and a `# TYPE` line, then its samples, one per line. Values are integers or
/// seconds written from integer nanoseconds, so no floating point is involved.
public struct PrometheusText {
    /// The page so far.
    public private(set) var text = ""

    /// An empty page.
    public init() {}

    /// Starts the family `name` of `type` (`counter`, `gauge`, `histogram`, `summary`).
    public mutating func family(_ name: String, type: String, help: String) {
        let escaped = help.replacingAll([("\\", "\\\\"), ("\n", "\\n")])
        text += "# HELP \(name) \(escaped)\n# TYPE \(name) \(type)\n"
    }

    /// One sample line, `name{label="value",…} value`.
    public mutating func sample(_ name: String, labels: [(String, String)] = [], _ value: String) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.0)=\"\($0.1.replacingAll([("\\", "\\\\"), ("\"", "\\\""), ("\n", "\\n")]))\"" }
                .joined(separator: ",") + "}"
        }
        text += " \(value)\n"
    }

    /// A gauge family of one sample.
    public mutating func gauge(_ name: String, help: String, _ value: UInt64) {
        family(name, type: "gauge", help: help)
        sample(name, String(value))
    }

    /// A counter family of one sample.
    public mutating func counter(_ name: String, help: String, _ value: UInt64) {
        family(name, type: "counter", help: help)
        sample(name, String(value))
    }

    /// `nanoseconds` as decimal seconds (`1500000` → `0.0015`).
    public static func seconds(nanoseconds: UInt64) -> String {
        let whole = nanoseconds / 1_000_000_000, fraction = nanoseconds % 1_000_000_000
        guard fraction > 0 else { return String(whole) }
        var digits = String(fraction)
        digits = String(repeating: "0", count: 9 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits)"
    }

    /// The page as an HTTP 200 answer with the exposition format's media type.
    public var response: HTTPResponse {
        HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")], body: Array(text.utf8))
    }
}

extension String {
    /// The string with each `(from, to)` replacement applied character by character.
    fileprivate func replacingAll(_ pairs: [(Character, String)]) -> String {
        var out = ""
        for c in self {
            if let to = pairs.first(where: { $0.0 == c })?.1 { out += to } else { out.append(c) }
        }
        return out
    }
}
