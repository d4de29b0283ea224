Feature: Oregon psilocybin services
  The shipped protocol oregon-psilocybin checks a service center's schedule against
  Oregon's rules: a preparation session at least 24 hours and at most 90 days before
  the first administration session, held by the facilitator who administers it (or a
  waiver recording the client's written consent), an administration session at least as long as
  its dose requires (OAR 333-333-5250), integration offered afterwards, and no client
  in two sessions at once.

  Background:
    Given the clinic uses the shipped protocol oregon-psilocybin
    And the clinic keeps its calendar in America/Los_Angeles time
    And the clinic's roster
      | clinician | roles     |
      | f-rivera  | therapist |
      | f-okafor  | therapist |
    And a patient C-001 with no recorded diagnosis
    And a preparation session P1 on 2026-07-01 at 10:00 for 60 minutes with f-rivera

  @OR-PSI-PREP-001
  Scenario: Preparation four days before the administration session
    Given a dosing session D1 on 2026-07-05 from 09:00 to 15:00 of 20 mg of psilocybin with f-rivera
    When the schedule is validated
    Then OR-PSI-PREP-001 is kept for D1

  @OR-PSI-PREP-001
  Scenario: Preparation the evening before is less than 24 hours ahead
    Given a patient C-002 with no recorded diagnosis
    And a preparation session P2 for C-002 on 2026-07-04 at 18:00 for 60 minutes with f-rivera
    And a dosing session D2 for C-002 on 2026-07-05 from 09:00 to 15:00 of 20 mg of psilocybin with f-rivera
    When the schedule is validated
    Then OR-PSI-PREP-001 is violated for D2

  @OR-PSI-DUR-001
  Scenario Outline: The minimum length of an administration session grows with the dose
    Given a dosing session D1 on 2026-07-05 at 09:00 for <minutes> minutes of <dose> mg of psilocybin with f-rivera
    When the schedule is validated
    Then OR-PSI-DUR-001 is <verdict> for D1

    Examples:
      | dose | minutes | verdict  |
      | 3    | 60      | kept     |
      | 5    | 119     | violated |
      | 5    | 120     | kept     |
      | 10   | 180     | violated |
      | 24.5 | 240     | kept     |
      | 25   | 240     | violated |
      | 40   | 360     | kept     |

  @OR-PSI-DUR-001
  Scenario: An administration session without its dose recorded cannot be checked
    Given a dosing session D1 on 2026-07-05 from 09:00 to 17:00 with f-rivera
    When the schedule is validated
    Then OR-PSI-DUR-001 is violated for D1
    And the clinic is told to "Record the dose of D1 (dose_mg)"

  @OR-PSI-INT-001
  Scenario: An integration session the week after is offered in time
    Given a dosing session D1 on 2026-07-05 from 09:00 to 15:00 of 20 mg of psilocybin with f-rivera
    And an integration session I1 on 2026-07-12 at 10:00 for 60 minutes with f-rivera
    When the schedule is validated
    Then OR-PSI-INT-001 is kept for D1

  @OR-PSI-INT-001
  Scenario: No integration session within 30 days is a warning
    Given a dosing session D1 on 2026-07-05 from 09:00 to 15:00 of 20 mg of psilocybin with f-rivera
    When the schedule is validated
    Then OR-PSI-INT-001 is violated for D1
    And the finding is a warning

  @OR-PSI-OVL-001
  Scenario: Integration after the administration session keeps the client's day clear
    Given a dosing session D1 on 2026-07-05 from 09:00 to 15:00 of 20 mg of psilocybin with f-rivera
    And an integration session I1 on 2026-07-05 at 15:00 for 60 minutes with f-rivera
    When the schedule is validated
    Then OR-PSI-OVL-001 is kept for I1

  @OR-PSI-OVL-001
  Scenario: Integration booked inside the administration session overlaps it
    Given a dosing session D1 on 2026-07-05 from 09:00 to 15:00 of 20 mg of psilocybin with f-rivera
    And an integration session I1 on 2026-07-05 at 14:00 for 60 minutes with f-rivera
    When the schedule is validated
    Then OR-PSI-OVL-001 is violated for I1

  @OR-PSI-SAME-001
  Scenario: The facilitator who prepared the client administers the first session
    Given a dosing session D1 on 2026-07-05 from 09:00 to 15:00 of 20 mg of psilocybin with f-rivera
    When the schedule is validated
    Then OR-PSI-SAME-001 is kept for D1

  @OR-PSI-SAME-001
  Scenario: Another facilitator administering the first session is a warning
    Given a dosing session D1 on 2026-07-05 from 09:00 to 15:00 of 20 mg of psilocybin with f-okafor
    When the schedule is validated
    Then OR-PSI-SAME-001 is violated for D1
    And the finding is a warning

  @OR-PSI-GRP-001
  Scenario: Two facilitators may hold sixteen clients at a 6 mg dose
    Given patients C-101 to C-115 with no recorded diagnosis
    And a group dosing session G1 for C-001, C-101, C-102, C-103, C-104, C-105, C-106, C-107, C-108, C-109, C-110, C-111, C-112, C-113, C-114 and C-115 on 2026-07-05 from 09:00 to 15:00 of 6 mg of psilocybin with f-rivera and f-okafor
    When the schedule is validated
    Then OR-PSI-GRP-001 is kept for G1

  @OR-PSI-GRP-001
  Scenario: At 20 mg one facilitator holds at most six clients
    Given patients C-101 to C-106 with no recorded diagnosis
    And a group dosing session G1 for C-001, C-101, C-102, C-103, C-104, C-105 and C-106 on 2026-07-05 from 09:00 to 15:00 of 20 mg of psilocybin with f-rivera
    When the schedule is validated
    Then OR-PSI-GRP-001 is violated for G1 once for each of its patients
    And the clinic is told to "Add 1 more clinician(s) to G1, or move 1 of its patients to another session"

  @OR-PSI-GRP-001
  Scenario: No group administration session holds more than 25 clients
    Given patients C-101 to C-125 with no recorded diagnosis
    And a group dosing session G1 for C-001, C-101, C-102, C-103, C-104, C-105, C-106, C-107, C-108, C-109, C-110, C-111, C-112, C-113, C-114, C-115, C-116, C-117, C-118, C-119, C-120, C-121, C-122, C-123, C-124 and C-125 on 2026-07-05 from 09:00 to 15:00 of 3 mg of psilocybin with f-rivera and f-okafor
    When the schedule is validated
    Then OR-PSI-GRP-001 is violated for G1 once for each of its patients
    And the clinic is told to "Move 1 of its patients to another session"
