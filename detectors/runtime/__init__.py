"""Model runners shared by detectors: OCR engines and the YOLO (ONNX Runtime) runner."""
