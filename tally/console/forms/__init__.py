"""The console's forms, one module per part of the operator's work. Each carries the
one-time key that makes a resubmission harmless (`services.submissions`); money is entered
in major units of the currency it is in."""
