"""System tests: the provider in real Airflow components (api-server, scheduler, dag-processor, triggerer)."""
