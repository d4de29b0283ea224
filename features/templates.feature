@template-after-each
Feature: A clinic writes its own rule from a template
  A clinic whose protocol asks for more than the default needs no code: its protocol
  file adds a rule by naming a template and giving its parameters. Here a clinic asks
  for two integration sessions within seven days after a patient's first dose.

  Background:
    Given the clinic keeps its calendar in America/New_York time
    And the clinic's roster
      | clinician | roles      |
      | dr-lee    | prescriber |
      | t-ortiz   | therapist  |
    And a patient P-001 diagnosed with recurrent major depression (F33.2)
    And the clinic's own protocol, which extends kap and adds the rule CLINIC-INT-002
      | setting        | value                                                 |
      | template       | after-each                                            |
      | title          | Two integration sessions after the first dose         |
      | requirement    | The first dose is followed by two integration sessions within 7 days. |
      | anchor         | dosing                                                |
      | kind           | integration                                           |
      | min_sessions   | 2                                                     |
      | window_hours   | 168                                                   |
      | only_first     | true                                                  |
    And a preparation session S1 on 2026-05-01 at 10:00 for 60 minutes
    And an assessment session A1 on 2026-05-01 at 14:00 for 60 minutes
    And a dosing session D1 on 2026-05-04 from 10:00 to 12:00
    And an integration session I1 on 2026-05-05 at 10:00 for 50 minutes

  Scenario: Two integration sessions in the week after the first dose keep the clinic's rule
    Given an integration session I2 on 2026-05-08 at 10:00 for 50 minutes
    When the schedule is validated
    Then CLINIC-INT-002 is kept for D1
    And the schedule is compliant

  Scenario: A patient with one integration session after the first dose is flagged
    When the schedule is validated
    Then CLINIC-INT-002 is violated for D1
    And the clinic is told to "Book an integration session starting between 2026-05-04 12:00 EDT and 2026-05-11 12:00 EDT"

  Scenario: An integration session eight days later is outside the clinic's week
    Given an integration session I2 on 2026-05-12 at 10:00 for 50 minutes
    When the schedule is validated
    Then CLINIC-INT-002 is violated for D1
