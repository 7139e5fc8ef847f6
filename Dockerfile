# AssetScreen HTTP service: CPU only, no torch at runtime (ONNX Runtime serves the models).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2 ASSETSCREEN_DATA=/data \
    ASSETSCREEN_WEIGHTS=/app/weights
WORKDIR /app
COPY pyproject.toml README.md ./
COPY detectors ./detectors
COPY service ./service
COPY weights ./weights
RUN pip install --no-cache-dir . && useradd --system --uid 10001 assetscreen && mkdir -p /data \
    && chown assetscreen /data
USER assetscreen
EXPOSE 8000
# The shipped models (MobileNets, YOLOX-nano, the learned heads) are in /app/weights and in the installed package;
# `assetscreen models list` verifies them against /app/weights/manifest.toml. Example bank and caches: /data.
CMD ["assetscreen", "serve", "--host", "0.0.0.0", "--port", "8000"]
