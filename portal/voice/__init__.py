"""Technicians' voice: suggestions and complaints about management or process, named or
anonymous, read and answered by trainers. An anonymous message keeps nothing that leads back
to its sender (see models.VoiceMessage)."""
