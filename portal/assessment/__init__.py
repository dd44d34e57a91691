"""Question banks, quizzes, attempts and grading (question types, GIFT and Moodle XML)."""
