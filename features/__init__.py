"""The Gherkin feature files: the auditors' specification of the kap protocol."""
