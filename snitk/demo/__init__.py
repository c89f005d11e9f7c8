"""The bundled demo corpus: `python -m snitk.demo.generate --out tasks` regenerates `tasks/`;
`snitk.demo.vocab` trains its SentencePiece vocabulary; `snitk demo` (run.py) is the main job."""
