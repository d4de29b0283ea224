Feature: Dosing: spacing, course size and monitoring
  Doses are spaced at least 48 hours apart (start to start), no more than six doses
  start in any 21 days (a warning), and each dosing session lasts at least two hours so
  that the patient is monitored after the dose. All of these are real elapsed time.

  Background:
    Given the clinic keeps its calendar in America/New_York time
    And the clinic's roster
      | clinician | roles      |
      | dr-lee    | prescriber |
      | rn-patel  | nurse      |
      | t-ortiz   | therapist  |
    And a patient P-001 diagnosed with recurrent major depression (F33.2)

  @KAP-DOSE-001
  Scenario Outline: Consecutive doses start at least 48 hours apart
    Given a dosing session D1 on 2026-04-06 from 10:00 to 12:00
    And a dosing session D2 on <day> from <time> to 23:00
    When the schedule is validated
    Then KAP-DOSE-001 is <verdict> for D2
    And KAP-DOSE-001 is kept for D1

    Examples:
      | day        | time  | verdict  |
      | 2026-04-08 | 10:00 | kept     |
      | 2026-04-08 | 09:59 | violated |
      | 2026-04-07 | 10:00 | violated |

  @KAP-DOSE-001
  Scenario: Spacing is real hours across the change to daylight-saving time
    Between 10:00 on Saturday 7 March and 10:00 on Monday 9 March 2026 only 47 hours
    pass in New York, because the clocks skip an hour on Sunday.

    Given a dosing session D1 on 2026-03-07 from 10:00 to 12:00
    And a dosing session D2 on 2026-03-09 from 10:00 to 12:00
    When the schedule is validated
    Then KAP-DOSE-001 is violated for D2
    And the clinic is told to "Move D2 to start at or after 2026-03-09 11:00 EDT"

  @KAP-DOSE-001
  Scenario: Only consecutive doses are compared
    Given a dosing session D1 on 2026-04-06 from 10:00 to 12:00
    And a dosing session D2 on 2026-04-08 from 09:00 to 11:00
    And a dosing session D3 on 2026-04-10 from 09:00 to 11:00
    When the schedule is validated
    Then KAP-DOSE-001 is violated for D2
    And KAP-DOSE-001 is kept for D3

  @KAP-DOSE-002
  Scenario: Six doses in three weeks keep the protocol
    Given dosing sessions D1 to D6 every 3 days from 2026-04-01 at 10:00
    When the schedule is validated
    Then KAP-DOSE-002 is kept

  @KAP-DOSE-002
  Scenario: A seventh dose within 21 days is a warning
    Given dosing sessions D1 to D7 every 3 days from 2026-04-01 at 10:00
    When the schedule is validated
    Then KAP-DOSE-002 is violated for D7
    And KAP-DOSE-002 is kept for D6
    And the finding is a warning

  @KAP-DOSE-002
  Scenario Outline: A dose exactly 21 days earlier falls outside the span
    Given dosing sessions D1 to D6 every 3 days from 2026-04-01 at 10:00
    And a dosing session D7 on 2026-04-22 from <time> to 23:00
    When the schedule is validated
    Then KAP-DOSE-002 is <verdict> for D7

    Examples:
      | time  | verdict  |
      | 10:00 | kept     |
      | 09:59 | violated |

  @KAP-MON-001
  Scenario Outline: A dosing session lasts at least two hours
    Given a dosing session D1 on 2026-04-06 from 10:00 to <end>
    When the schedule is validated
    Then KAP-MON-001 is <verdict> for D1

    Examples:
      | end   | verdict  |
      | 12:00 | kept     |
      | 13:30 | kept     |
      | 11:59 | violated |

  @KAP-MON-001
  Scenario: Monitoring is measured in real time when the clocks spring forward
    From 01:00 to 03:30 on 8 March 2026 the New York wall clock shows two and a half
    hours, but only an hour and a half pass.

    Given a dosing session D1 on 2026-03-08 from 01:00 to 03:30
    When the schedule is validated
    Then KAP-MON-001 is violated for D1
    And the clinic is told to "Extend D1 to end at or after 2026-03-08 04:00 EDT"
