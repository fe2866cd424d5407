import Foundation

/// Leveled logging: one line per event on standard error,
/// `2026-11-25T09:30:01.123Z INFO  block produced number=12 txs=3`.
/// Thread-safe; lines are never interleaved.
public final class Logger: @unchecked Sendable {
    public enum Level: Int, Comparable, CaseIterable, Sendable {
        case debug, info, warn, error
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
        public init?(name: String) {
            switch name {
            case "debug": self = .debug
            case "info": self = .info
            case "warn": self = .warn
            case "error": self = .error
            default: return nil
            }
        }
        var label: String {
            switch self {
            case .debug: return "DEBUG"
            case .info: return "INFO "
            case .warn: return "WARN "
            case .error: return "ERROR"
            }
        }
    }

    public let level: Level
    private let lock = NSLock()
    private let formatter: ISO8601DateFormatter

    public init(level: Level) {
        self.level = level
        formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    }

    /// Logs `message` with `key=value` fields when `level` is enabled.
    public func log(_ level: Level, _ message: @autoclosure () -> String, _ fields: @autoclosure () -> KeyValuePairs<String, Any> = [:]) {
        guard level >= self.level else { return }
        var line = "\(formatter.string(from: Date())) \(level.label) \(message())"
        for (k, v) in fields() {
            var text = "\(v)".replacingOccurrences(of: "\n", with: "\\n")
            if text.contains(" ") { text = "\"\(text)\"" }
            line += " \(k)=\(text)"
        }
        line += "\n"
        lock.withLock { FileHandle.standardError.write(Data(line.utf8)) }
    }

    public func debug(_ m: @autoclosure () -> String, _ f: @autoclosure () -> KeyValuePairs<String, Any> = [:]) { log(.debug, m(), f()) }
    public func info(_ m: @autoclosure () -> String, _ f: @autoclosure () -> KeyValuePairs<String, Any> = [:]) { log(.info, m(), f()) }
    public func warn(_ m: @autoclosure () -> String, _ f: @autoclosure () -> KeyValuePairs<String, Any> = [:]) { log(.warn, m(), f()) }
    public func error(_ m: @autoclosure () -> String, _ f: @autoclosure () -> KeyValuePairs<String, Any> = [:]) { log(.error, m(), f()) }
}
