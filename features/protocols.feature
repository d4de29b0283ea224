Feature: A clinic's own protocol
  Compliance officers own the protocol as a document. A clinic's protocol extends the
  shipped kap protocol and changes only what differs: a parameter, a severity, whether
  a rule runs, or the modalities allowed for a diagnosis. The same schedule can keep
  one protocol and break another.

  Background:
    Given the clinic keeps its calendar in America/New_York time
    And the clinic's roster
      | clinician | roles      |
      | dr-lee    | prescriber |
      | t-ortiz   | therapist  |
    And a patient P-001 diagnosed with recurrent major depression (F33.2)

  @KAP-INT-001
  Scenario: Integration 60 hours after the dose keeps the default protocol
    Given a dosing session D1 on 2026-04-06 from 10:00 to 12:00
    And an integration session I1 on 2026-04-09 at 00:00 for 50 minutes
    When the schedule is validated
    Then KAP-INT-001 is kept for D1

  @KAP-INT-001
  Scenario: The same integration breaks a protocol that asks for it within 48 hours
    Given the clinic's own protocol, which extends kap and sets
      | rule        | setting      | value |
      | KAP-INT-001 | window_hours | 48    |
    And a dosing session D1 on 2026-04-06 from 10:00 to 12:00
    And an integration session I1 on 2026-04-09 at 00:00 for 50 minutes
    When the schedule is validated
    Then KAP-INT-001 is violated for D1
    And the clinic is told to "Book an integration session starting between 2026-04-06 12:00 EDT and 2026-04-08 12:00 EDT"

  @KAP-ASMT-001
  Scenario: A clinic that disables the assessment rule gets no assessment finding
    Given the clinic's own protocol, which extends kap and sets
      | rule         | setting | value |
      | KAP-ASMT-001 | enabled | false |
    And a dosing session D1 on 2026-04-06 from 10:00 to 12:00
    When the schedule is validated
    Then KAP-ASMT-001 is kept

  @KAP-DOSE-002
  Scenario: A clinic that treats a seventh dose in three weeks as an error
    Given the clinic's own protocol, which extends kap and sets
      | rule         | setting  | value |
      | KAP-DOSE-002 | severity | error |
    And dosing sessions D1 to D7 every 3 days from 2026-04-01 at 10:00
    When the schedule is validated
    Then KAP-DOSE-002 is violated for D7
    And the finding is an error
    And the schedule is not compliant

  @KAP-MOD-001
  Scenario: A clinic that allows EMDR for PTSD
    Given the clinic's own protocol, which extends kap and sets
      | rule      | setting | value          |
      | diagnoses | F43.1   | PE, CPT, EMDR  |
    And a patient P-002 diagnosed with post-traumatic stress (F43.10)
    And a psychotherapy session T1 for P-002 on 2026-04-06 at 09:00 for 50 minutes using EMDR
    When the schedule is validated
    Then KAP-MOD-001 is kept for T1

  @KAP-INT-001
  Scenario: The shipped PTSD protocol keeps exposure work 30 hours after a dose
    Given the clinic uses the shipped protocol kap-ptsd-pe
    And a dosing session D1 on 2026-04-06 from 10:00 to 12:00
    And an integration session I1 on 2026-04-07 at 18:00 for 90 minutes using PE
    When the schedule is validated
    Then KAP-INT-001 is kept for D1

  @KAP-INT-001
  Scenario: The shipped PTSD protocol does not count exposure work an hour after a dose
    Given the clinic uses the shipped protocol kap-ptsd-pe
    And a dosing session D1 on 2026-04-06 from 10:00 to 12:00
    And an integration session I1 on 2026-04-06 at 13:00 for 90 minutes using PE
    When the schedule is validated
    Then KAP-INT-001 is violated for D1

  @KAP-INT-001
  Scenario: The shipped PTSD protocol does not count exposure work four days after a dose
    Given the clinic uses the shipped protocol kap-ptsd-pe
    And a dosing session D1 on 2026-04-06 from 10:00 to 12:00
    And an integration session I1 on 2026-04-09 at 12:01 for 90 minutes using PE
    When the schedule is validated
    Then KAP-INT-001 is violated for D1

  @KAP-DX-001
  Scenario: The shipped PTSD protocol does not cover depression alone
    Given the clinic uses the shipped protocol kap-ptsd-pe
    And a patient P-009 diagnosed with recurrent major depression (F33.2)
    And a dosing session D9 for P-009 on 2026-04-06 from 10:00 to 12:00
    When the schedule is validated
    Then KAP-DX-001 is violated for D9

  @KAP-DX-001
  Scenario: The shipped PTSD protocol covers post-traumatic stress disorder
    Given the clinic uses the shipped protocol kap-ptsd-pe
    And a patient P-008 diagnosed with post-traumatic stress (F43.10)
    And a dosing session D8 for P-008 on 2026-04-06 from 10:00 to 12:00
    When the schedule is validated
    Then KAP-DX-001 is kept for D8
