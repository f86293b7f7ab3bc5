"""Text classifiers: tf-idf, sentence-encoder hybrid, fine-tuned MiniLM, and their loading for prediction."""
