"""Cross-attention to RAIN's context, the reference image's single CLIP token.

With one key, softmax gives that key weight exactly 1, so every query's output is the one value
row: the output is to_out(to_v(context)) at every token, whatever the query. The stock processor
still projects every token to a query, runs attention and projects every token out again (about
2% of the denoiser's FLOPs); `SingleTokenCrossAttnProcessor` projects the one row and broadcasts
it. Installed with `set_processor` on each spatial transformer's attn2, like reference_attention.
"""

from __future__ import annotations

import torch
from diffusers.models.attention_processor import Attention, AttnProcessor2_0


class SingleTokenCrossAttnProcessor(AttnProcessor2_0):
    """attn2 for a (B, 1, D) context: (B, N, C) queries -> (B, N, C), the value row broadcast over N.

    Any other call (several context tokens, a mask, no context, 4-D input) runs the stock processor.
    """

    def __call__(self, attn: Attention, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                 attention_mask: torch.Tensor | None = None, *args, **kwargs) -> torch.Tensor:
        if (encoder_hidden_states is None or encoder_hidden_states.shape[1] != 1 or attention_mask is not None
                or hidden_states.ndim != 3):
            return super().__call__(attn, hidden_states, encoder_hidden_states, attention_mask, *args, **kwargs)
        value = attn.to_out[1](attn.to_out[0](attn.to_v(encoder_hidden_states)))  # (B, 1, C)
        return value.expand(-1, hidden_states.shape[1], -1)


def install(unet: torch.nn.Module) -> int:
    """Put the processor on every cross-attention (attn2) of `unet` that it computes exactly; returns how many."""
    count = 0
    for path, module in unet.named_modules():
        if path.endswith(".attn2") and isinstance(module, Attention) and _plain(module):
            module.set_processor(SingleTokenCrossAttnProcessor())
            count += 1
    return count


def _plain(attn: Attention) -> bool:
    """The output is to_out(to_v(context)) alone: no context norm, no residual, no rescaling.
    (Norms on the query or key side change nothing: one key's weight is 1 whatever they give.)"""
    return (attn.is_cross_attention and attn.norm_cross is None and not attn.residual_connection
            and attn.rescale_output_factor == 1.0)
