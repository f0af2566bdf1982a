"""The paper rehearsal: data in the real formats at the real sizes, and the priced paper run."""
