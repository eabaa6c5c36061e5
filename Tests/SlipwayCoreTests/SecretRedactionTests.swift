import SlipwayCore
import Testing

@Suite struct SecretRedactionTests {
    @Test func replacesEveryKnownValueLongestFirst() {
        let r = SecretRedaction(["SHORT": "abc", "LONG": "abcdef", "EMPTY": ""])
        #expect(r.redact("x=abcdef y=abc z=abcabc") == "x=[secret LONG] y=[secret SHORT] z=[secret SHORT][secret SHORT]")
        #expect(r.redact(["no secret here", "token abc"]) == ["no secret here", "token [secret SHORT]"])
        #expect(SecretRedaction.none.redact("abc") == "abc")
    }

    @Test func namesAndValuesAreChecked() {
        #expect(SecretName.problem("API_TOKEN") == nil)
        #expect(SecretName.problem("_x9") == nil)
        #expect(SecretName.problem("9x")?.contains("not a valid environment variable name") == true)
        #expect(SecretName.problem("A=B")?.contains("\"A=B\"") == true)
        #expect(SecretName.problem("") == "a secret name must not be empty")
        #expect(SecretName.problem("PORT")?.contains("reserved") == true)
        #expect(SecretName.problem("SLIPWAY_TOKEN")?.contains("reserved") == true)
        #expect(SecretName.valueProblem("", name: "A") == "the value of secret A is empty; an empty secret is refused")
        #expect(SecretName.valueProblem("a\u{0}b", name: "A")?.contains("NUL") == true)
        #expect(SecretName.valueProblem(String(repeating: "x", count: SecretName.maxValueBytes + 1), name: "A")?.contains("at most") == true)
        #expect(SecretName.valueProblem("ok", name: "A") == nil)
    }
}
