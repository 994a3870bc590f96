"""The sensor that waits for a voice-training job."""
