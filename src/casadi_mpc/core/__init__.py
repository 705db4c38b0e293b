"""The optimization core: models, cost terms, transcription and solvers. Never imports rclpy."""
