"""Edge: what runs on the gate device — decode, measure, decide, record."""
