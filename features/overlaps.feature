Feature: No double bookings
  A patient attends one session at a time, and a clinician runs one session at a time,
  whichever patients they see. When two sessions overlap, the finding is attached to the
  one that starts later (for sessions starting together, the one with the greater id).
  Back-to-back sessions, one ending as the next starts, do not overlap.

  Background:
    Given the clinic keeps its calendar in America/New_York time
    And the clinic's roster
      | clinician | roles      |
      | dr-lee    | prescriber |
      | t-ortiz   | therapist  |
      | t-nguyen  | therapist  |
    And a patient P-001 diagnosed with recurrent major depression (F33.2)
    And a patient P-002 diagnosed with post-traumatic stress (F43.10)

  @KAP-OVL-001
  Scenario: Back-to-back sessions of a patient do not overlap
    Given a psychotherapy session T1 for P-001 on 2026-04-06 from 09:00 to 10:00
    And a psychotherapy session T2 for P-001 on 2026-04-06 from 10:00 to 11:00 with t-nguyen
    When the schedule is validated
    Then KAP-OVL-001 is kept

  @KAP-OVL-001
  Scenario: Overlapping sessions of a patient are flagged at the later one
    Given a psychotherapy session T1 for P-001 on 2026-04-06 from 09:00 to 10:00
    And a psychotherapy session T2 for P-001 on 2026-04-06 from 09:59 to 11:00 with t-nguyen
    When the schedule is validated
    Then KAP-OVL-001 is violated for T2
    And KAP-OVL-001 is kept for T1

  @KAP-OVL-001
  Scenario: Sessions starting together are flagged at the greater id
    Given a psychotherapy session T-B for P-001 on 2026-04-06 from 09:00 to 10:00
    And a psychotherapy session T-A for P-001 on 2026-04-06 from 09:00 to 10:00 with t-nguyen
    When the schedule is validated
    Then KAP-OVL-001 is violated for T-B
    And KAP-OVL-001 is kept for T-A

  @KAP-OVL-001
  Scenario: Three overlapping sessions give two findings
    Given a psychotherapy session T1 for P-001 on 2026-04-06 from 09:00 to 12:00
    And a psychotherapy session T2 for P-001 on 2026-04-06 from 10:00 to 11:00 with t-nguyen
    And an assessment session A1 for P-001 on 2026-04-06 at 10:30 for 60 minutes
    When the schedule is validated
    Then KAP-OVL-001 is violated for T2
    And KAP-OVL-001 is violated for A1
    And KAP-OVL-001 is kept for T1

  @KAP-CLIN-001
  Scenario: A therapist may see two patients back to back
    Given a psychotherapy session T1 for P-001 on 2026-04-06 from 09:00 to 10:00
    And a psychotherapy session T2 for P-002 on 2026-04-06 from 10:00 to 11:00 using PE
    When the schedule is validated
    Then KAP-CLIN-001 is kept

  @KAP-CLIN-001
  Scenario: A therapist booked with two patients at once is flagged at the later session
    Given a psychotherapy session T1 for P-001 on 2026-04-06 from 09:00 to 10:00
    And a psychotherapy session T2 for P-002 on 2026-04-06 from 09:30 to 10:30 using PE
    When the schedule is validated
    Then KAP-CLIN-001 is violated for T2
    And the finding is about patient P-002
    And the clinic is told to "assign it to another therapist free then: t-nguyen"
    And KAP-CLIN-001 is kept for T1

  @KAP-CLIN-001
  Scenario: Different clinicians may run sessions at the same time
    Given a psychotherapy session T1 for P-001 on 2026-04-06 from 09:00 to 10:00
    And a psychotherapy session T2 for P-002 on 2026-04-06 from 09:00 to 10:00 using PE with t-nguyen
    When the schedule is validated
    Then KAP-CLIN-001 is kept

  @KAP-CLIN-001
  Scenario: A clinician leading a group session is booked once
    Given a group integration session G1 for P-001 and P-002 on 2026-04-06 from 17:00 to 18:30 with t-ortiz
    When the schedule is validated
    Then KAP-CLIN-001 is kept

  @KAP-CLIN-001
  Scenario: A co-therapist booked into two group sessions at once is double-booked
    Given a group integration session G1 for P-001 and P-002 on 2026-04-06 from 17:00 to 18:30 with t-ortiz and t-nguyen
    And a psychotherapy session T1 for P-001 on 2026-04-06 from 18:00 to 19:00 with t-nguyen
    When the schedule is validated
    Then KAP-CLIN-001 is violated for T1

  @KAP-ROOM-001
  Scenario: Sessions in different rooms at the same time keep the room rule
    Given a dosing session D1 for P-001 on 2026-04-06 from 10:00 to 12:00 in room "Room A"
    And a dosing session D2 for P-002 on 2026-04-06 from 10:00 to 12:00 in room "Room B"
    When the schedule is validated
    Then KAP-ROOM-001 is kept

  @KAP-ROOM-001
  Scenario: Back-to-back sessions in one room keep the room rule
    Given a dosing session D1 for P-001 on 2026-04-06 from 10:00 to 12:00 in room "Room A"
    And a dosing session D2 for P-002 on 2026-04-06 from 12:00 to 14:00 in room "Room A"
    When the schedule is validated
    Then KAP-ROOM-001 is kept

  @KAP-ROOM-001
  Scenario: Two sessions booked into one room at once are flagged at the later one
    Given a dosing session D1 for P-001 on 2026-04-06 from 10:00 to 12:00 in room "Room A"
    And a dosing session D2 for P-002 on 2026-04-06 from 11:00 to 13:00 in room "Room A"
    And a psychotherapy session T9 for P-001 on 2026-04-07 from 11:00 to 12:00 in room "Room B"
    When the schedule is validated
    Then KAP-ROOM-001 is violated for D2
    And the finding is a warning
    And the clinic is told to "book it in Room B (free then)"
