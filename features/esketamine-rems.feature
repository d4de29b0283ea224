Feature: Esketamine nasal spray under its REMS
  The shipped protocol esketamine-rems checks what the SPRAVATO label and REMS ask of
  every session: at least two hours of monitoring, administration supervised by a
  prescriber or nurse, the label's dosing phases (twice a week in weeks 1 to 4, weekly
  in weeks 5 to 8, at most weekly after), one session a day, a 56 mg first dose,
  enrollment in the REMS before the first treatment, an indication of major depressive
  disorder, and no overlapping sessions.

  Background:
    Given the clinic uses the shipped protocol esketamine-rems
    And the clinic keeps its calendar in America/Chicago time
    And the clinic's roster
      | clinician | roles      |
      | dr-lee    | prescriber |
      | rn-patel  | nurse      |
      | t-ortiz   | therapist  |
    And a patient P-001 diagnosed with treatment-resistant depression (F33.2)
    And P-001's rems-enrollment record is dated 2026-05-20

  @ESK-MON-001
  Scenario: A session with two hours of monitoring keeps the REMS
    Given a dosing session D1 on 2026-06-01 from 09:00 to 11:00 of 56 mg
    When the schedule is validated
    Then ESK-MON-001 is kept for D1
    And the schedule is compliant

  @ESK-MON-001
  Scenario: Discharge after 90 minutes breaks the REMS
    Given a dosing session D1 on 2026-06-01 from 09:00 to 10:30
    When the schedule is validated
    Then ESK-MON-001 is violated for D1
    And the clinic is told to "Extend D1 to end at or after 2026-06-01 11:00 CDT"

  @ESK-ROLE-001
  Scenario: A nurse observes the administration
    Given a dosing session D1 on 2026-06-01 from 09:00 to 11:00 with rn-patel
    When the schedule is validated
    Then ESK-ROLE-001 is kept for D1

  @ESK-ROLE-001
  Scenario: A therapist alone cannot observe the administration
    Given a dosing session D1 on 2026-06-01 from 09:00 to 11:00 with t-ortiz
    When the schedule is validated
    Then ESK-ROLE-001 is violated for D1

  @ESK-FREQ-001
  Scenario: Twice a week in the induction phase keeps the label's frequency
    Given dosing sessions D1 to D4 every 4 days from 2026-06-01 at 09:00
    When the schedule is validated
    Then ESK-FREQ-001 is kept

  @ESK-FREQ-001
  Scenario: A third session within seven days exceeds twice a week
    Given dosing sessions D1 to D3 every 2 days from 2026-06-01 at 09:00
    When the schedule is validated
    Then ESK-FREQ-001 is violated for D3

  @ESK-DX-001
  Scenario: Major depressive disorder is an indication
    Given a dosing session D1 on 2026-06-01 from 09:00 to 11:00
    When the schedule is validated
    Then ESK-DX-001 is kept for D1

  @ESK-DX-001
  Scenario: Generalized anxiety alone is not an indication for esketamine
    Given a patient P-002 diagnosed with generalized anxiety disorder (F41.1)
    And a dosing session D2 for P-002 on 2026-06-01 from 13:00 to 15:00
    When the schedule is validated
    Then ESK-DX-001 is violated for D2

  @ESK-OVL-001
  Scenario: An assessment after the monitoring period ends keeps the patient's day clear
    Given a dosing session D1 on 2026-06-01 from 09:00 to 11:00
    And an assessment session A1 on 2026-06-01 at 11:00 for 30 minutes
    When the schedule is validated
    Then ESK-OVL-001 is kept for A1

  @ESK-OVL-001
  Scenario: An assessment booked during the monitoring period overlaps it
    Given a dosing session D1 on 2026-06-01 from 09:00 to 11:00
    And an assessment session A1 on 2026-06-01 at 10:30 for 30 minutes
    When the schedule is validated
    Then ESK-OVL-001 is violated for A1

  @ESK-FREQ-002
  Scenario: Weekly sessions in weeks 5 to 8 keep the maintenance phase
    Given dosing sessions D1 to D7 every 4 days from 2026-06-01 at 09:00
    And a dosing session D9 on 2026-07-01 from 09:00 to 11:00
    And a dosing session D10 on 2026-07-08 from 09:00 to 11:00
    When the schedule is validated
    Then ESK-FREQ-002 is kept

  @ESK-FREQ-002
  Scenario: Two sessions within a week in weeks 5 to 8 exceed the maintenance phase
    Given dosing sessions D1 to D7 every 4 days from 2026-06-01 at 09:00
    And a dosing session D9 on 2026-07-01 from 09:00 to 11:00
    And a dosing session D10 on 2026-07-04 from 09:00 to 11:00
    When the schedule is validated
    Then ESK-FREQ-002 is violated for D10

  @ESK-FREQ-003
  Scenario: Sessions two weeks apart from week 9 on keep the label's frequency
    Given a dosing session D1 on 2026-06-01 from 09:00 to 11:00 of 56 mg
    And a dosing session D9 on 2026-07-27 from 09:00 to 11:00
    And a dosing session D10 on 2026-08-10 from 09:00 to 11:00
    When the schedule is validated
    Then ESK-FREQ-003 is kept

  @ESK-FREQ-003
  Scenario: Two sessions within a week after week 8 exceed the label's frequency
    Given a dosing session D1 on 2026-06-01 from 09:00 to 11:00 of 56 mg
    And a dosing session D9 on 2026-07-27 from 09:00 to 11:00
    And a dosing session D10 on 2026-07-31 from 09:00 to 11:00
    When the schedule is validated
    Then ESK-FREQ-003 is violated for D10

  @ESK-DAY-001
  Scenario: Sessions on two days keep one session a day
    Given a dosing session D1 on 2026-06-01 from 09:00 to 11:00 of 56 mg
    And a dosing session D2 on 2026-06-02 from 09:00 to 11:00
    When the schedule is validated
    Then ESK-DAY-001 is kept

  @ESK-DAY-001
  Scenario: A second session on the same day is a double dose
    Given a dosing session D1 on 2026-06-01 from 09:00 to 11:00 of 56 mg
    And a dosing session D2 on 2026-06-01 from 15:00 to 17:00
    When the schedule is validated
    Then ESK-DAY-001 is violated for D2

  @ESK-FIRST-001
  Scenario: The course starts at 56 mg
    Given a dosing session D1 on 2026-06-01 from 09:00 to 11:00 of 56 mg
    And a dosing session D2 on 2026-06-04 from 09:00 to 11:00 of 84 mg
    When the schedule is validated
    Then ESK-FIRST-001 is kept for D1

  @ESK-FIRST-001
  Scenario: A course that starts at 84 mg skips the 56 mg start
    Given a dosing session D1 on 2026-06-01 from 09:00 to 11:00 of 84 mg
    When the schedule is validated
    Then ESK-FIRST-001 is violated for D1
    And the clinic is told to "Start the course at 56 mg or less"

  @ESK-FIRST-001
  Scenario: A first session without its dose recorded cannot show the 56 mg start
    Given a dosing session D1 on 2026-06-01 from 09:00 to 11:00
    When the schedule is validated
    Then ESK-FIRST-001 is violated for D1

  @ESK-REMS-001
  Scenario: A patient enrolled in the REMS before the first treatment keeps the REMS
    Given a dosing session D1 on 2026-06-01 from 09:00 to 11:00 of 56 mg
    When the schedule is validated
    Then ESK-REMS-001 is kept for D1

  @ESK-REMS-001
  Scenario: A patient enrolled after the first treatment breaks the REMS
    Given P-001's rems-enrollment record is dated 2026-06-02
    And a dosing session D1 on 2026-06-01 from 09:00 to 11:00 of 56 mg
    When the schedule is validated
    Then ESK-REMS-001 is violated for D1

  @ESK-REMS-001
  Scenario: A patient with no enrollment on record breaks the REMS
    Given a patient P-003 diagnosed with treatment-resistant depression (F33.2)
    And a dosing session D3 for P-003 on 2026-06-01 from 13:00 to 15:00 of 56 mg
    When the schedule is validated
    Then ESK-REMS-001 is violated for D3
