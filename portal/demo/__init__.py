"""Demo data: a believable service network and one user per role."""
