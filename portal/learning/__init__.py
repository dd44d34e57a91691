"""Courses, lessons, cohorts, progress, practical sign-offs and assignments."""
