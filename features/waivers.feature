Feature: Documented exceptions (waivers)
  A waiver records an approved exception: the rule, the session (or the whole patient),
  the reason, who approved it, and the last day it holds, in the clinic's timezone. A
  waived finding stays in the report, marked with its waiver, and does not count
  towards the verdict. A waiver that has expired waives nothing, and a waiver that
  matches no finding is itself reported, as a warning, so stale exceptions are noticed.

  Background:
    Given the clinic keeps its calendar in America/New_York time
    And the clinic's roster
      | clinician | roles      |
      | dr-lee    | prescriber |
      | t-ortiz   | therapist  |
    And a patient P-001 diagnosed with recurrent major depression (F33.2)
    And an assessment session A1 on 2026-03-25 at 09:00 for 60 minutes
    And a preparation session P1 on 2026-03-26 at 09:00 for 60 minutes

  @KAP-INT-001
  Scenario: An approved exception keeps the finding in view but out of the verdict
    Given a dosing session D1 on 2026-03-30 from 10:00 to 12:00
    And a waiver of KAP-INT-001 for session D1, approved by dr-lee until 2026-04-30, because "Integration held by video on day 2; note filed"
    When the schedule is validated on 2026-03-15
    Then KAP-INT-001 is waived for D1
    And the schedule is compliant

  @KAP-INT-001
  Scenario Outline: A waiver holds through its last day and no longer
    Given a dosing session D1 on 2026-03-30 from 10:00 to 12:00
    And a waiver of KAP-INT-001 for session D1, approved by dr-lee until 2026-04-30, because "Integration held by video on day 2; note filed"
    When the schedule is validated on <day>
    Then KAP-INT-001 is <verdict> for D1

    Examples:
      | day        | verdict  |
      | 2026-04-30 | waived   |
      | 2026-05-01 | violated |

  @KAP-PREP-001
  Scenario: A waiver for a patient covers that rule's findings for the patient
    Given a patient P-002 diagnosed with recurrent major depression (F33.2)
    And a dosing session D2 for P-002 on 2026-03-30 from 10:00 to 12:00
    And a waiver of KAP-PREP-001 for patient P-002, approved by dr-lee until 2026-12-31, because "Transferred mid-course; prepared at the referring clinic"
    When the schedule is validated on 2026-03-15
    Then KAP-PREP-001 is waived for D2

  @WAIVER-001
  Scenario: A waiver that matches a finding raises no warning of its own
    Given a dosing session D1 on 2026-03-30 from 10:00 to 12:00
    And a waiver of KAP-INT-001 for session D1, approved by dr-lee until 2026-04-30, because "Integration held by video on day 2; note filed"
    When the schedule is validated on 2026-03-15
    Then WAIVER-001 is kept

  @WAIVER-001
  Scenario: A waiver that matches no finding is reported as a warning
    Given a dosing session D1 on 2026-03-30 from 10:00 to 12:00
    And an integration session I1 on 2026-03-31 at 10:00 for 50 minutes
    And a waiver of KAP-INT-001 for session D1, approved by dr-lee until 2026-04-30, because "Integration held by video on day 2; note filed"
    When the schedule is validated on 2026-03-15
    Then WAIVER-001 is violated for D1
    And the finding is a warning
    And the schedule is compliant
