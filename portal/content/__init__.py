"""Loading the repository's content files (content/, quizzes/) into the database."""
