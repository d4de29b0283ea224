@KAP-INT-001
Feature: Integration after every dose
  Every ketamine dosing session is followed by an integration session that starts
  within 72 hours after the dose ends, so that the patient can work through the
  experience with a therapist while it is fresh. The 72 hours are real elapsed hours:
  a change of the clocks does not lengthen or shorten them.

  Background:
    Given the clinic keeps its calendar in America/New_York time
    And the clinic's roster
      | clinician | roles      |
      | dr-lee    | prescriber |
      | t-ortiz   | therapist  |
    And a patient P-001 diagnosed with recurrent major depression (F33.2)

  Scenario: Integration the next morning keeps the protocol
    Given a dosing session D1 on 2026-03-02 from 10:00 to 12:00
    And an integration session I1 on 2026-03-03 at 09:00 for 50 minutes
    When the schedule is validated
    Then KAP-INT-001 is kept for D1

  Scenario: A dose followed only by ordinary psychotherapy breaks the protocol
    Given a dosing session D1 on 2026-03-02 from 10:00 to 12:00
    And a psychotherapy session T1 on 2026-03-03 at 09:00 for 50 minutes
    When the schedule is validated
    Then KAP-INT-001 is violated for D1
    And the clinic is told to "Book an integration session starting between 2026-03-02 12:00 EST and 2026-03-05 12:00 EST"

  Scenario: Each dose needs an integration session of its own after it
    Given a dosing session D1 on 2026-03-02 from 10:00 to 12:00
    And an integration session I1 on 2026-03-03 at 09:00 for 50 minutes
    And a dosing session D2 on 2026-03-06 from 10:00 to 12:00
    When the schedule is validated
    Then KAP-INT-001 is kept for D1
    And KAP-INT-001 is violated for D2

  Scenario: An integration session held before the dose ends does not count
    Given a dosing session D1 on 2026-03-02 from 10:00 to 12:00
    And an integration session I1 on 2026-03-02 at 08:00 for 50 minutes
    When the schedule is validated
    Then KAP-INT-001 is violated for D1

  Scenario Outline: The 72-hour window includes both of its ends
    Given a dosing session D1 on 2026-03-02 from 10:00 to 12:00
    And an integration session I1 on <day> at <time> for 50 minutes
    When the schedule is validated
    Then KAP-INT-001 is <verdict> for D1

    Examples:
      | day        | time  | verdict  |
      | 2026-03-02 | 12:00 | kept     |
      | 2026-03-05 | 11:59 | kept     |
      | 2026-03-05 | 12:00 | kept     |
      | 2026-03-05 | 12:01 | violated |

  Scenario Outline: The window is 72 real hours across the change to daylight-saving time
    New York moves its clocks from 02:00 to 03:00 on Sunday 8 March 2026, so 72 hours
    after 12:00 on Friday 6 March is 13:00 on Monday 9 March by the wall clock.

    Given a dosing session D1 on 2026-03-06 from 10:00 to 12:00
    And an integration session I1 on 2026-03-09 at <time> for 50 minutes
    When the schedule is validated
    Then KAP-INT-001 is <verdict> for D1

    Examples:
      | time  | verdict  |
      | 12:00 | kept     |
      | 13:00 | kept     |
      | 13:01 | violated |

  Scenario: A group integration circle counts for each of its patients
    Given a patient P-002 diagnosed with recurrent major depression (F33.2)
    And a dosing session D1 on 2026-03-02 from 10:00 to 12:00
    And a dosing session D2 for P-002 on 2026-03-02 from 13:00 to 15:00
    And a group integration session G1 for P-001 and P-002 on 2026-03-04 at 17:00 for 90 minutes
    When the schedule is validated
    Then KAP-INT-001 is kept for D1
    And KAP-INT-001 is kept for D2

  Scenario: A group circle three days later is too late for one of its patients
    Given a patient P-002 diagnosed with recurrent major depression (F33.2)
    And a dosing session D1 on 2026-03-02 from 10:00 to 12:00
    And a dosing session D2 for P-002 on 2026-03-01 from 13:00 to 15:00
    And a group integration session G1 for P-001 and P-002 on 2026-03-04 at 17:00 for 90 minutes
    When the schedule is validated
    Then KAP-INT-001 is kept for D1
    And KAP-INT-001 is violated for D2
    And the finding is about patient P-002
