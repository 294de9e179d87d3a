# Label Mode Explorer as a hosted demo (Hugging Face Spaces, or any Docker host): CPU-only
# PyTorch, a non-root user, runs and uploads in a writable folder, private runs (LME_PUBLIC=1).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN useradd --create-home --uid 1000 user && mkdir -p /data/runs /data/uploads && chown -R user /data
# The project is copied before the install: the requirements end with `-e .`, the project
# itself, so that `streamlit run dashboard/app.py` finds the `engine` and `dashboard` packages.
COPY --chown=user . /app
RUN pip install --no-cache-dir -r dashboard/requirements.txt
USER user
ENV HOME=/home/user LME_PUBLIC=1 LME_RUNS_DIR=/data/runs LME_UPLOADS_DIR=/data/uploads
EXPOSE 8501
CMD ["streamlit", "run", "dashboard/app.py", "--server.port=8501", "--server.address=0.0.0.0", "--server.enableXsrfProtection=false"]
