@KAP-ROLE-001
Feature: The right clinician for each session
  Dosing sessions are run by a prescriber or a nurse, who can administer ketamine and
  respond to adverse effects; preparation, integration and psychotherapy sessions are
  run by a therapist. Assessments may be run by any clinician of the roster.

  Background:
    Given the clinic keeps its calendar in America/New_York time
    And the clinic's roster
      | clinician | roles      |
      | dr-lee    | prescriber |
      | rn-patel  | nurse      |
      | t-ortiz   | therapist  |
    And a patient P-001 diagnosed with recurrent major depression (F33.2)

  Scenario Outline: Who may run each kind of session
    Given a <kind> session S1 on 2026-04-06 from 10:00 to 12:00 with <clinician>
    When the schedule is validated
    Then KAP-ROLE-001 is <verdict> for S1

    Examples:
      | kind          | clinician | verdict  |
      | dosing        | dr-lee    | kept     |
      | dosing        | rn-patel  | kept     |
      | dosing        | t-ortiz   | violated |
      | preparation   | t-ortiz   | kept     |
      | preparation   | rn-patel  | violated |
      | integration   | t-ortiz   | kept     |
      | integration   | dr-lee    | violated |
      | psychotherapy | t-ortiz   | kept     |
      | psychotherapy | dr-lee    | violated |
      | assessment    | dr-lee    | kept     |
      | assessment    | t-ortiz   | kept     |

  Scenario: The finding names the clinicians who could run the session
    Given a dosing session D1 on 2026-04-06 from 10:00 to 12:00 with t-ortiz
    When the schedule is validated
    Then KAP-ROLE-001 is violated for D1
    And the clinic is told to "Assign D1 to dr-lee or rn-patel"

  Scenario: A dosing session run by a therapist with a nurse beside them has its nurse
    Given a dosing session S1 on 2026-04-06 from 10:00 to 12:00 with t-ortiz and rn-patel
    When the schedule is validated
    Then KAP-ROLE-001 is kept for S1

  Scenario: A group session without an allowed clinician is a finding for each patient
    Given a patient P-002 diagnosed with recurrent major depression (F33.2)
    And a group dosing session S1 for P-001 and P-002 on 2026-04-06 from 10:00 to 12:00 with t-ortiz
    When the schedule is validated
    Then KAP-ROLE-001 is violated for S1 once for each of its patients
