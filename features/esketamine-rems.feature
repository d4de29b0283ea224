Feature: Esketamine nasal spray under its REMS
  The shipped protocol esketamine-rems checks what the SPRAVATO label and REMS ask of
  every session: at least two hours of monitoring, administration observed by a
  prescriber or nurse, no more than two sessions a week, an indication of major
  depressive disorder, and no overlapping sessions.

  Background:
    Given the clinic uses the shipped protocol esketamine-rems
    And the clinic keeps its calendar in America/Chicago time
    And the clinic's roster
      | clinician | roles      |
      | dr-lee    | prescriber |
      | rn-patel  | nurse      |
      | t-ortiz   | therapist  |
    And a patient P-001 diagnosed with treatment-resistant depression (F33.2)

  @ESK-MON-001
  Scenario: A session with two hours of monitoring keeps the REMS
    Given a dosing session D1 on 2026-06-01 from 09:00 to 11:00
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
