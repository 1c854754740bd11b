"""What a learner sees: frames, tables, plots, video and widgets.

Modules: drive_widget, evaluation_plots, frames, progress_bar, racing_line, ram_panel, reward_plots, tables,
training, video.
"""
