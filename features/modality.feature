Feature: Therapy that fits the diagnosis
  Ketamine is paired with the psychotherapy that has evidence for the patient's
  condition: CBT or psychodynamic therapy (PDT) for depression (F32, F33), prolonged
  exposure (PE) or cognitive processing therapy (CPT) for PTSD (F43.1), and CBT for
  generalized anxiety (F41.1). Every psychotherapy and integration session uses a
  modality allowed for at least one of the patient's diagnoses, and a patient who is
  dosed has at least one diagnosis that the map covers.

  Background:
    Given the clinic keeps its calendar in America/New_York time
    And the clinic's roster
      | clinician | roles      |
      | dr-lee    | prescriber |
      | t-ortiz   | therapist  |

  @KAP-MOD-001
  Scenario Outline: The modality must be one the diagnosis map allows
    Given a patient P-001 diagnosed with <condition> (<code>)
    And a psychotherapy session T1 on 2026-03-03 at 09:00 for 50 minutes using <modality>
    When the schedule is validated
    Then KAP-MOD-001 is <verdict> for T1

    Examples:
      | condition                    | code   | modality | verdict  |
      | recurrent major depression   | F33.2  | CBT      | kept     |
      | recurrent major depression   | F33.2  | PDT      | kept     |
      | recurrent major depression   | F33.2  | PE       | violated |
      | post-traumatic stress        | F43.10 | PE       | kept     |
      | post-traumatic stress        | F43.10 | CPT      | kept     |
      | post-traumatic stress        | F43.10 | CBT      | violated |
      | generalized anxiety          | F41.1  | CBT      | kept     |
      | generalized anxiety          | F41.1  | EMDR     | violated |
      | post-traumatic stress        | F431   | PE       | kept     |

  @KAP-MOD-001
  Scenario: Integration sessions are held to the same map
    Given a patient P-001 diagnosed with post-traumatic stress (F43.10)
    And an integration session I1 on 2026-03-03 at 09:00 for 50 minutes using CBT
    When the schedule is validated
    Then KAP-MOD-001 is violated for I1
    And the clinic is told to "Deliver I1 as CPT or PE"

  @KAP-MOD-001
  Scenario: One fitting diagnosis is enough
    Given a patient P-001 diagnosed with depression and PTSD (F33.1, F43.10)
    And a psychotherapy session T1 on 2026-03-03 at 09:00 for 50 minutes using PE
    And a psychotherapy session T2 on 2026-03-04 at 09:00 for 50 minutes using PDT
    When the schedule is validated
    Then KAP-MOD-001 is kept for T1
    And KAP-MOD-001 is kept for T2

  @KAP-MOD-001
  Scenario: A patient with no recorded diagnosis has no allowed modality
    Given a patient P-001 with no recorded diagnosis
    And a psychotherapy session T1 on 2026-03-03 at 09:00 for 50 minutes using CBT
    When the schedule is validated
    Then KAP-MOD-001 is violated for T1

  @KAP-DX-001
  Scenario: A dosed patient with depression has an indication
    Given a patient P-001 diagnosed with recurrent major depression (F33.2)
    And a dosing session D1 on 2026-03-04 from 10:00 to 12:00
    When the schedule is validated
    Then KAP-DX-001 is kept for D1

  @KAP-DX-001
  Scenario: A dosed patient whose only diagnosis the map does not cover breaks the protocol
    Given a patient P-001 diagnosed with ADHD (F90.0)
    And a dosing session D1 on 2026-03-04 from 10:00 to 12:00
    And a dosing session D2 on 2026-03-07 from 10:00 to 12:00
    When the schedule is validated
    Then KAP-DX-001 is violated for D1
    And KAP-DX-001 is kept for D2

  @KAP-DX-001
  Scenario: A dosed patient with no diagnosis at all breaks the protocol
    Given a patient P-001 with no recorded diagnosis
    And a dosing session D1 on 2026-03-04 from 10:00 to 12:00
    When the schedule is validated
    Then KAP-DX-001 is violated for D1

  @KAP-DX-001
  Scenario: A patient who is not dosed needs no indication for ketamine
    Given a patient P-001 diagnosed with ADHD (F90.0)
    And an assessment session A1 on 2026-03-04 at 09:00 for 60 minutes
    When the schedule is validated
    Then KAP-DX-001 is kept
