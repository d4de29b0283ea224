Feature: What a booking change does to the schedule
  A scheduler about to book, move or cancel a session asks what the change does to the
  booked schedule. kapcheck answers with the findings the change introduces and those
  it resolves; findings the schedule already had are neither.

  Background:
    Given the clinic keeps its calendar in America/New_York time
    And the clinic's roster
      | clinician | roles      |
      | dr-lee    | prescriber |
      | t-ortiz   | therapist  |
    And a patient P-001 diagnosed with recurrent major depression (F33.2)
    And an assessment session A1 on 2026-03-02 at 09:00 for 60 minutes
    And a preparation session P1 on 2026-03-03 at 10:00 for 60 minutes
    And a dosing session D1 on 2026-03-04 from 10:00 to 12:00
    And a dosing session D2 on 2026-03-09 from 10:00 to 12:00
    And an integration session I2 on 2026-03-10 at 10:00 for 50 minutes

  @KAP-INT-001
  Scenario: Booking the missing integration session resolves the finding
    Given the proposal adds an integration session I1 on 2026-03-05 at 10:00 for 50 minutes
    When the proposal is checked
    Then the proposal resolves KAP-INT-001 for D1
    And the proposal introduces nothing

  @KAP-DOSE-001
  Scenario: Moving a dose closer to the previous one introduces a spacing finding
    Given the proposal moves D2 to 2026-03-05 at 10:00
    When the proposal is checked
    Then the proposal introduces KAP-DOSE-001 for D2

  @KAP-PREP-001
  Scenario: Cancelling the only preparation session introduces a preparation finding
    Given the proposal cancels P1
    When the proposal is checked
    Then the proposal introduces KAP-PREP-001 for D1

  @KAP-INT-001 @KAP-OVL-001
  Scenario: A change that touches nothing of a patient's introduces nothing for them
    Given a patient P-002 diagnosed with post-traumatic stress disorder (F43.10)
    And a psychotherapy session T1 for P-002 on 2026-03-11 at 14:00 for 50 minutes using PE
    And the proposal moves T1 to 2026-03-12 at 14:00
    When the proposal is checked
    Then the proposal introduces nothing
    And the proposal resolves nothing
    And KAP-INT-001 is still reported for D1
