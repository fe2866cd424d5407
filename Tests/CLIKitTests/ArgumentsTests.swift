import XCTest
@testable import CLIKit

final class ArgumentsTests: XCTestCase {
    func testOptionsFlagsAndPositionals() throws {
        let a = try Arguments(["pos1", "--to", "0xab", "--dry-run", "--value=1.5", "pos2"], options: ["--to", "--value"], flags: ["--dry-run"])
        XCTAssertEqual(a.positionals, ["pos1", "pos2"])
        XCTAssertEqual(a.option("--to"), "0xab")
        XCTAssertEqual(a.option("--value"), "1.5")
        XCTAssertTrue(a.flag("--dry-run"))
        XCTAssertFalse(a.wantsHelp)
    }

    func testMistakesNameTheOption() {
        XCTAssertThrowsError(try Arguments(["--nope"], options: ["--to"])) { XCTAssertTrue("\($0)".contains("--nope")) }
        XCTAssertThrowsError(try Arguments(["--to"], options: ["--to"])) { XCTAssertTrue("\($0)".contains("--to")) }
        XCTAssertThrowsError(try Arguments(["--to", "a", "--to", "b"], options: ["--to"])) { XCTAssertTrue("\($0)".contains("more than once")) }
        XCTAssertThrowsError(try Arguments(["--flag=x"], options: [], flags: ["--flag"]))
        XCTAssertThrowsError(try Arguments([], options: ["--datadir"]).required("--datadir")) { XCTAssertTrue("\($0)".contains("--datadir")) }
    }

    func testHelpAndDoubleDash() throws {
        let a = try Arguments(["-h", "--", "--not-an-option"], options: [])
        XCTAssertTrue(a.wantsHelp)
        XCTAssertEqual(a.positionals, ["--not-an-option"])
    }
}
