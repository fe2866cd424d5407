#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A mistake in how a command was invoked: printed with the usage hint, exit code 2.
public struct UsageError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A failure while doing the work (I/O, network, a refused request): exit code 1.
public struct CommandFailure: Error, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Parsed arguments of one command: `--name value` options, `--flag` switches and
/// positionals, in any order. Unknown options, missing values and repeated options are
/// usage errors naming the option.
public struct Arguments {
    public private(set) var positionals: [String] = []
    private var options: [String: String] = [:]
    private var flags: Set<String> = []
    private var lists: [String: [String]] = [:]
    /// True when `--help` or `-h` was given.
    public private(set) var wantsHelp = false

    /// Parses `argv` (without the command words) given the option names that take a
    /// value and the switches, both written with their leading `--`. Options in
    /// `repeatable` may be given many times (`values(_:)` returns them in order).
    public init(_ argv: [String], options valued: [String], flags switches: [String] = [], repeatable: [String] = []) throws {
        var i = 0
        var onlyPositionals = false
        while i < argv.count {
            let a = argv[i]
            i += 1
            if onlyPositionals || !a.hasPrefix("-") || a == "-" {
                positionals.append(a)
                continue
            }
            if a == "--" { onlyPositionals = true; continue }
            if a == "--help" || a == "-h" { wantsHelp = true; continue }
            var name = a
            var inline: String?
            if let eq = a.firstIndex(of: "=") {
                name = String(a[..<eq])
                inline = String(a[a.index(after: eq)...])
            }
            if switches.contains(name) {
                guard inline == nil else { throw UsageError("\(name) takes no value") }
                flags.insert(name)
            } else if repeatable.contains(name) {
                if let inline {
                    lists[name, default: []].append(inline)
                } else {
                    guard i < argv.count else { throw UsageError("\(name) needs a value") }
                    lists[name, default: []].append(argv[i])
                    i += 1
                }
            } else if valued.contains(name) {
                guard options[name] == nil else { throw UsageError("\(name) given more than once") }
                if let inline {
                    options[name] = inline
                } else {
                    guard i < argv.count else { throw UsageError("\(name) needs a value") }
                    options[name] = argv[i]
                    i += 1
                }
            } else {
                throw UsageError("unknown option \(name)")
            }
        }
    }

    /// The value of an option, if given.
    public func option(_ name: String) -> String? { options[name] }

    /// Every value of a repeatable option, in the order given.
    public func values(_ name: String) -> [String] { lists[name] ?? [] }

    /// The value of a required option.
    public func required(_ name: String) throws -> String {
        guard let v = options[name] else { throw UsageError("missing required option \(name)") }
        return v
    }

    /// Whether a switch was given.
    public func flag(_ name: String) -> Bool { flags.contains(name) }

    /// Fails unless exactly `count` positionals were given; `names` name them in the message.
    public func expectPositionals(_ names: [String]) throws {
        if positionals.count < names.count { throw UsageError("missing argument \(names[positionals.count])") }
        if positionals.count > names.count { throw UsageError("unexpected argument \(positionals[names.count])") }
    }
}

/// Writes a line to standard error.
public func printError(_ text: String) {
    var line = text
    if !line.hasSuffix("\n") { line += "\n" }
    _ = line.withCString { fputs($0, stderr) }
}

/// Runs a command-line program: `body` returns the exit status; a `UsageError` prints
/// `program: message` and the usage hint and exits 2; any other error prints
/// `program: message` and exits 1.
public func runMain(program: String, usageHint: String, _ body: () throws -> Int32) -> Never {
    do {
        let status = try body()
        fflush(stdout)
        exit(status)
    } catch let e as UsageError {
        fflush(stdout)
        printError("\(program): \(e.message)")
        printError(usageHint)
        exit(2)
    } catch {
        fflush(stdout)
        printError("\(program): \(error)")
        exit(1)
    }
}
