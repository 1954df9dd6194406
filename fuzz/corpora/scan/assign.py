api_key = "Q7w2Er9tY4uI1oP6aS3d"
password: changeme
