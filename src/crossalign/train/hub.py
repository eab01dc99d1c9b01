"""``training.push_to_hub``: the final ``model/`` folder (weights, tokenizer, model card) on the hub.

    repo = prepare_push(cfg, args)      # before the model loads: repo id, token, repository created
    url = push_model(repo, "runs/afp/model", args)

crossalign does not hand ``push_to_hub`` to the Trainer: the Trainer would upload its whole
output folder (checkpoint weights copied to its top, TensorBoard logs, the run's side files) at
every save. Here one commit uploads the folder a user loads with ``from_pretrained``, the model
card as its ``README.md``, once, after training. ``training.args`` still carries
``hub_private_repo`` and ``hub_revision`` to this push. The token is the usual one (``HF_TOKEN``,
``hf auth login``), never an option: ``training.args hub_token`` is refused (train/arguments.py),
since options are written into config.yaml and the card and would be uploaded. Only the main
process talks to the hub.
"""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import HfApi, get_token
from huggingface_hub.utils import HFValidationError, validate_repo_id

from crossalign.errors import ConfigError


def repo_name(cfg) -> str:
    """``training.hub_model_id``, or the name of the output folder (as the Trainer names it)."""
    return cfg.training.hub_model_id or Path(cfg.training.output_dir).absolute().name


def prepare_push(cfg, args) -> str | None:
    """Check what the push needs and create (or find) the repository; its full id, or None when not
    pushing or not the main process. Refusals are ConfigErrors, before the model loads."""
    if not cfg.training.push_to_hub or not args.should_save:
        return None
    name = repo_name(cfg)
    try:
        validate_repo_id(name)
    except HFValidationError as exc:
        raise ConfigError(f"training.hub_model_id: {name!r} is not a hub repository id ({exc})") from None
    token = get_token()
    if not token:
        raise ConfigError("training.push_to_hub: no Hugging Face token; run `hf auth login` or set HF_TOKEN")
    try:
        url = HfApi(token=token).create_repo(name, private=args.hub_private_repo, exist_ok=True)
    except Exception as exc:
        raise ConfigError(f"training.push_to_hub: cannot create or reach the repository {name!r}: {exc}") from None
    return url.repo_id


def push_model(repo_id: str, folder: str | Path, args, step: int | None = None) -> str:
    """Upload ``folder`` to the root of ``repo_id`` in one commit; returns the commit URL."""
    api = HfApi(token=get_token())
    info = api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        commit_message="crossalign train: aligned model" + (f" (step {step})" if step is not None else ""),
        revision=args.hub_revision,
    )
    return str(getattr(info, "commit_url", info))
