"""Legal and agreed deadlines: the rule a case falls under (`rules`), its deadline set when the
starting event happens (`rules.deadlines_start`, subscribed to the verdict and notice hooks in
`routing.hooks`), breaches marked and the seniors told (`escalation`), and the evidence packs for a
regulator or the police (`evidence`, `pdf`). See docs/deadlines.md."""
