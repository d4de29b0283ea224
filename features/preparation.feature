Feature: Preparation and assessment before the first dose
  Before a patient's first ketamine dose the clinic prepares them in therapy and
  assesses them. The default protocol asks for at least one preparation session that
  ends before the first dose starts and starts no more than 30 days before it, and an
  assessment that ends before the first dose and starts no more than 14 days before it.
  Missing preparation is an error; a missing assessment is a warning.

  Background:
    Given the clinic keeps its calendar in America/New_York time
    And the clinic's roster
      | clinician | roles      |
      | dr-lee    | prescriber |
      | t-ortiz   | therapist  |
    And a patient P-001 diagnosed with recurrent major depression (F33.2)

  @KAP-PREP-001
  Scenario: A preparation session the week before the first dose keeps the protocol
    Given a preparation session P1 on 2026-03-23 at 14:00 for 90 minutes
    And a dosing session D1 on 2026-03-30 from 10:00 to 12:00
    When the schedule is validated
    Then KAP-PREP-001 is kept for D1

  @KAP-PREP-001
  Scenario: A first dose without any preparation breaks the protocol
    Given a dosing session D1 on 2026-03-30 from 10:00 to 12:00
    When the schedule is validated
    Then KAP-PREP-001 is violated for D1
    And the schedule is not compliant

  @KAP-PREP-001
  Scenario: Only the first dose needs preparation before it
    Given a preparation session P1 on 2026-03-23 at 14:00 for 90 minutes
    And a dosing session D1 on 2026-03-30 from 10:00 to 12:00
    And a dosing session D2 on 2026-04-02 from 10:00 to 12:00
    When the schedule is validated
    Then KAP-PREP-001 is kept for D1
    And KAP-PREP-001 is kept for D2

  @KAP-PREP-001
  Scenario: Preparation booked after the first dose does not count
    Given a dosing session D1 on 2026-03-30 from 10:00 to 12:00
    And a preparation session P1 on 2026-03-31 at 14:00 for 90 minutes
    When the schedule is validated
    Then KAP-PREP-001 is violated for D1

  @KAP-PREP-001
  Scenario Outline: The preparation session must end before the dose starts
    Given a preparation session P1 on 2026-03-30 from 08:00 to <end>
    And a dosing session D1 on 2026-03-30 from 10:00 to 12:00
    When the schedule is validated
    Then KAP-PREP-001 is <verdict> for D1

    Examples:
      | end   | verdict  |
      | 10:00 | kept     |
      | 10:01 | violated |

  @KAP-PREP-001
  Scenario Outline: Thirty days are counted in real hours, across the clock change
    New York moves its clocks forward on 8 March 2026: 30 days (720 hours) before
    10:00 on 10 March is 09:00 on 8 February by the wall clock.

    Given a preparation session P1 on 2026-02-08 at <time> for 60 minutes
    And a dosing session D1 on 2026-03-10 from 10:00 to 12:00
    When the schedule is validated
    Then KAP-PREP-001 is <verdict> for D1

    Examples:
      | time  | verdict  |
      | 09:00 | kept     |
      | 08:59 | violated |

  @KAP-ASMT-001
  Scenario: An assessment ten days before the first dose keeps the protocol
    Given an assessment session A1 on 2026-03-20 at 09:00 for 60 minutes
    And a dosing session D1 on 2026-03-30 from 10:00 to 12:00
    When the schedule is validated
    Then KAP-ASMT-001 is kept for D1

  @KAP-ASMT-001
  Scenario: A first dose without a recent assessment is a warning
    Given a preparation session P1 on 2026-03-23 at 14:00 for 90 minutes
    And an assessment session A1 on 2026-02-20 at 09:00 for 60 minutes
    And a dosing session D1 on 2026-03-30 from 10:00 to 12:00
    And an integration session I1 on 2026-03-31 at 10:00 for 50 minutes
    When the schedule is validated
    Then KAP-ASMT-001 is violated for D1
    And the finding is a warning
    And the schedule is compliant

  @KAP-ASMT-001
  Scenario Outline: The assessment window is fourteen days, both ends included
    Given an assessment session A1 on 2026-03-16 at <time> for 60 minutes
    And a dosing session D1 on 2026-03-30 from 10:00 to 12:00
    When the schedule is validated
    Then KAP-ASMT-001 is <verdict> for D1

    Examples:
      | time  | verdict  |
      | 10:00 | kept     |
      | 09:59 | violated |
