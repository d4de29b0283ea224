Feature: MDMA-assisted therapy as the phase 3 trials ran it
  The shipped protocol mdma-at checks a research site's schedule against the structure
  of the MAPP1 and MAPP2 trials: three preparatory sessions, three experimental
  sessions three to five weeks apart, each about eight hours long, an integration
  session the morning after and three within four weeks, a negative pregnancy test
  (recorded as an assessment) in the 72 hours before each experimental session, and a
  diagnosis of PTSD.

  Background:
    Given the clinic uses the shipped protocol mdma-at
    And the clinic keeps its calendar in America/Denver time
    And the clinic's roster
      | clinician | roles                 |
      | dr-lee    | prescriber, therapist |
      | t-ortiz   | therapist             |
    And a patient P-001 diagnosed with post-traumatic stress disorder (F43.10)
    And a preparation session S1 on 2026-08-03 at 10:00 for 90 minutes
    And a preparation session S2 on 2026-08-06 at 10:00 for 90 minutes
    And a preparation session S3 on 2026-08-10 at 10:00 for 90 minutes
    And an assessment session T1 on 2026-08-11 at 09:00 for 30 minutes
    And a dosing session D1 on 2026-08-12 from 09:00 to 17:00 with dr-lee and t-ortiz
    And an integration session I1 on 2026-08-13 at 09:00 for 90 minutes
    And an integration session I2 on 2026-08-20 at 10:00 for 90 minutes
    And an integration session I3 on 2026-08-27 at 10:00 for 90 minutes

  @MDMA-PREP-001 @MDMA-NEXT-001 @MDMA-INT-001 @MDMA-MON-001 @MDMA-DX-001 @MDMA-OVL-001
  Scenario: A first experimental session with its preparation and integration keeps the protocol
    When the schedule is validated
    Then MDMA-PREP-001 is kept for D1
    And MDMA-NEXT-001 is kept for D1
    And MDMA-INT-001 is kept for D1
    And MDMA-MON-001 is kept for D1
    And MDMA-DX-001 is kept for D1
    And MDMA-OVL-001 is kept
    And the schedule is compliant

  @MDMA-PREP-001
  Scenario: Two preparatory sessions are not enough
    Given a patient P-002 diagnosed with post-traumatic stress disorder (F43.10)
    And a preparation session S4 for P-002 on 2026-08-03 at 13:00 for 90 minutes
    And a preparation session S5 for P-002 on 2026-08-06 at 13:00 for 90 minutes
    And a dosing session D9 for P-002 on 2026-08-14 from 09:00 to 17:00 with dr-lee and t-ortiz
    When the schedule is validated
    Then MDMA-PREP-001 is violated for D9

  @MDMA-NEXT-001
  Scenario: Integration two days later misses the morning after
    Given a patient P-002 diagnosed with post-traumatic stress disorder (F43.10)
    And a dosing session D9 for P-002 on 2026-08-14 from 09:00 to 17:00 with dr-lee and t-ortiz
    And an integration session I9 for P-002 on 2026-08-16 at 09:00 for 90 minutes
    When the schedule is validated
    Then MDMA-NEXT-001 is violated for D9

  @MDMA-INT-001
  Scenario: One integration session after an experimental session is not three
    Given a patient P-002 diagnosed with post-traumatic stress disorder (F43.10)
    And a dosing session D9 for P-002 on 2026-08-14 from 09:00 to 17:00 with dr-lee and t-ortiz
    And an integration session I9 for P-002 on 2026-08-15 at 09:00 for 90 minutes
    When the schedule is validated
    Then MDMA-INT-001 is violated for D9

  @MDMA-SPACE-001
  Scenario: A second experimental session four weeks later keeps the spacing
    Given a dosing session D2 on 2026-09-09 from 09:00 to 17:00 with dr-lee and t-ortiz
    When the schedule is validated
    Then MDMA-SPACE-001 is kept for D2

  @MDMA-SPACE-001
  Scenario Outline: Experimental sessions closer than three or further than five weeks apart
    Given a dosing session D2 on <day> from 09:00 to 17:00 with dr-lee and t-ortiz
    When the schedule is validated
    Then MDMA-SPACE-001 is <verdict> for D2

    Examples:
      | day        | verdict  |
      | 2026-08-26 | violated |
      | 2026-09-02 | kept     |
      | 2026-09-16 | kept     |
      | 2026-09-23 | violated |

  @MDMA-COUNT-001
  Scenario: Three experimental sessions make one course
    Given a dosing session D2 on 2026-09-09 from 09:00 to 17:00 with dr-lee and t-ortiz
    And a dosing session D3 on 2026-10-07 from 09:00 to 17:00 with dr-lee and t-ortiz
    When the schedule is validated
    Then MDMA-COUNT-001 is kept

  @MDMA-COUNT-001
  Scenario: A fourth experimental session within the year exceeds the course
    Given a dosing session D2 on 2026-09-09 from 09:00 to 17:00 with dr-lee and t-ortiz
    And a dosing session D3 on 2026-10-07 from 09:00 to 17:00 with dr-lee and t-ortiz
    And a dosing session D4 on 2026-11-04 from 09:00 to 17:00 with dr-lee and t-ortiz
    When the schedule is validated
    Then MDMA-COUNT-001 is violated for D4

  @MDMA-MON-001
  Scenario: A six-hour experimental session is too short
    Given a patient P-002 diagnosed with post-traumatic stress disorder (F43.10)
    And a dosing session D9 for P-002 on 2026-08-14 from 09:00 to 15:00 with dr-lee and t-ortiz
    When the schedule is validated
    Then MDMA-MON-001 is violated for D9

  @MDMA-DX-001
  Scenario: Depression alone is outside the trials' evidence
    Given a patient P-002 diagnosed with recurrent major depression (F33.2)
    And a dosing session D9 for P-002 on 2026-08-14 from 09:00 to 17:00 with dr-lee and t-ortiz
    When the schedule is validated
    Then MDMA-DX-001 is violated for D9

  @MDMA-OVL-001
  Scenario: An integration session during the experimental session overlaps it
    Given an integration session I0 on 2026-08-12 at 16:00 for 90 minutes
    When the schedule is validated
    Then MDMA-OVL-001 is violated for I0

  @MDMA-PREG-001
  Scenario: A pregnancy test the day before the experimental session keeps the protocol
    When the schedule is validated
    Then MDMA-PREG-001 is kept for D1

  @MDMA-PREG-001
  Scenario: A second experimental session without a new test breaks the protocol
    Given a dosing session D2 on 2026-09-09 from 09:00 to 17:00 with dr-lee and t-ortiz
    When the schedule is validated
    Then MDMA-PREG-001 is violated for D2
    And the clinic is told to "Book an assessment session that start no earlier than 2026-09-06 09:00 MDT"

  @MDMA-TEAM-001
  Scenario: Two therapists run the experimental session
    When the schedule is validated
    Then MDMA-TEAM-001 is kept for D1

  @MDMA-TEAM-001
  Scenario: One therapist alone cannot run an experimental session
    Given a dosing session D2 on 2026-09-09 from 09:00 to 17:00 with dr-lee
    When the schedule is validated
    Then MDMA-TEAM-001 is violated for D2
    And the clinic is told to "Add 1 more of the clinicians with the role therapist to D2"
